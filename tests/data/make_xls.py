"""Writes tests/data/persons.xls, the legacy-Excel (BIFF8) fixture of the Excel extractor test.

No Rust crate writes .xls, so this file was made once with the Python package xlwt 1.3.0
(`pip install xlwt==1.3.0; python tests/data/make_xls.py`) and is kept in the repository.
"""
import datetime
import os

import xlwt

book = xlwt.Workbook(encoding="utf-8")
book.add_sheet("notes").write(0, 0, "Synthetic rows for migstat's tests")
sheet = book.add_sheet("Persons 2024")
sheet.write(0, 0, "Labour force survey, 2024 (synthetic)")
for col, name in enumerate(["id", "sex", "interview", "region"]):
    sheet.write(2, 1 + col, name)
dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
rows = [
    (1, 2, datetime.date(2024, 3, 31), "Côte-Nord"),
    (2, 1, datetime.date(2024, 2, 29), "Yukon"),
]
for i, (pid, sex, day, region) in enumerate(rows):
    r = 3 + 2 * i  # a blank row between the two persons
    sheet.write(r, 1, pid)
    sheet.write(r, 2, sex)
    sheet.write(r, 3, day, dates)
    sheet.write(r, 4, region)
book.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "persons.xls"))
