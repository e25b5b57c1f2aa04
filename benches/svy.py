"""`migstat estimate` against the Python survey package svy (PyPI `svy`, Rust kernels).

Six domain estimates by SEX, AGEB, CBR (2 x 3 x 2 = 12 domains) on one Parquet file of a
generated Thai LFS (ROWS persons aged 15+, default 2,000,000; 200 strata x 10 PSUs, 80 Rao-Wu
bootstrap replicate weights):

1-3. replicate (bootstrap) variance: total of EMP, mean of EMP, ratio EMP/LF;
4-6. Taylor linearisation with strata and PSUs: the same three.

Each side is one whole process, so its wall time and peak memory include starting up, reading
the Parquet file and printing the result: migstat as the binary (`--format csv`), svy in a
`python -c` child that reads the same file with `svy.read_parquet` (polars), projected to the
columns the case needs, declares the design, estimates, and prints est and se. Both use all
threads. Times are medians of RUNS runs (default 5, `MIGSTAT_BENCH_RUNS`); memory is the peak
RSS of each process (GNU time), the largest over the runs. svy's own split (import, read, design
+ estimate) is shown beside it, from the child's clock, for the first run.

Agreement is computed, not assumed: for every case the estimates and standard errors of the two
are matched domain by domain and the largest relative difference |a-b|/max(|a|,|b|) of each is
printed; one above 1e-9, or a domain only one side reports, is printed as a DISAGREEMENT.

Conventions matched: migstat `--method bootstrap --scale 0.0125` is svy's `BootstrapWgts` default
coefficient 1/R = 1/80 (checked in the child), and migstat's default centring at the mean of the
replicates is svy's `variance_center="rep_mean"` (`--mse` would be `"estimate"`). For Taylor,
PSU = STRATUM*1000 + EA is unique over strata (EA is numbered within stratum); neither side is
given an fpc, so both use the with-replacement n_h/(n_h-1) stratum formula.

The Parquet file is built once with DuckDB from the generated CSV of 2.6M persons (the same one
`benches/compare.py` makes) and cached: `svy.parquet` for 2,000,000 rows, `svy-ROWS.parquet`
otherwise. Rows are the first ROWS with AGE >= 15 in file order; a stratum the cut leaves with
a single PSU is dropped whole (reported), as neither side could give it a Taylor variance.

Usage: .venv/bin/python benches/svy.py BINARY [ROWS]    (needs `pip install svy` in that venv)
"""
import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
PERSONS = 2_600_000
WORK = os.path.join(tempfile.gettempdir(), "migstat-bench-cli")
os.makedirs(WORK, exist_ok=True)
TOL = 1e-9
BY = ["SEX", "AGEB", "CBR"]
NREPS = 80

# Timing and peak memory per process, as `make bench` measures them.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import RUNS, best, synth  # noqa: E402


def make_parquet(rows):
    """The first `rows` persons aged 15+ with the design columns, built once."""
    data = os.path.join(WORK, f"tha-{PERSONS}")
    synth(PERSONS, data)
    name = "svy.parquet" if rows == 2_000_000 else f"svy-{rows}.parquet"
    path = os.path.join(data, name)
    if not os.path.exists(path):
        import duckdb
        reps = ", ".join(f"REPWT{i}" for i in range(1, NREPS + 1))
        con = duckdb.connect()
        con.execute(f"""CREATE TEMP TABLE cut AS
            SELECT STRATUM, EA, STRATUM * 1000 + EA AS PSU, SEX,
                   CASE WHEN AGE < 25 THEN 'Y15-24' WHEN AGE < 55 THEN 'Y25-54' ELSE 'YGE55' END AS AGEB,
                   CASE WHEN BIRTH_CTRY = 'THA' THEN 'NATIVE' ELSE 'FOREIGN' END AS CBR,
                   CASE WHEN LFS = 1 THEN 1.0 ELSE 0.0 END AS EMP,
                   CASE WHEN LFS IN (1, 2) THEN 1.0 ELSE 0.0 END AS LF,
                   WEIGHT, {reps}
            FROM read_csv('{data}/tha_lfs_synth_persons.csv', all_varchar=false) WHERE AGE >= 15 LIMIT {rows}""")
        if con.execute("SELECT MAX(EA) FROM cut").fetchall()[0][0] >= 1000:
            sys.exit("EA >= 1000: STRATUM*1000+EA would not be a unique PSU")
        lonely = con.execute("""SELECT STRATUM, COUNT(*) FROM cut GROUP BY STRATUM
                            HAVING COUNT(DISTINCT PSU) < 2""").fetchall()
        for s, n in lonely:
            print(f"  (stratum {s} has one PSU after the cut: its {n} rows are dropped)")
        tmp = path + ".tmp"
        con.execute(f"""COPY (SELECT * FROM cut WHERE STRATUM NOT IN
                          (SELECT STRATUM FROM cut GROUP BY STRATUM HAVING COUNT(DISTINCT PSU) < 2))
                    TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 122880)""")
        con.close()
        os.replace(tmp, path)
    return path


# The svy side: argv = path, design (rep|taylor), statistic (total|mean|ratio). Prints the
# domains as CSV (BY columns, est, se), then one '#' line of its own timings.
SVY = """
import sys, time
t0 = time.perf_counter()
import svy
t1 = time.perf_counter()
path, design, stat = sys.argv[1:4]
by = %(by)r
ys = ['EMP', 'LF'] if stat == 'ratio' else ['EMP']
if design == 'rep':
    reps = svy.BootstrapWgts(prefix='REPWT', n_reps=%(nreps)d)
    assert reps.coefficients() == [1.0 / %(nreps)d] * %(nreps)d, reps.coefficients()
    d = svy.Design(wgt='WEIGHT', rep_wgts=reps)
    cols = by + ys + ['WEIGHT'] + [f'REPWT{i}' for i in range(1, %(nreps)d + 1)]
    kw = dict(method='replication', variance_center='rep_mean')
else:
    d = svy.Design(stratum='STRATUM', psu='PSU', wgt='WEIGHT')
    cols = by + ys + ['STRATUM', 'PSU', 'WEIGHT']
    kw = dict(method='taylor')
data = svy.read_parquet(path, columns=cols)
t2 = time.perf_counter()
est = svy.Sample(data, d).estimation
if stat == 'ratio':
    r = est.ratio('EMP', 'LF', by=by, **kw)
else:
    r = getattr(est, stat)('EMP', by=by, **kw)
out = r.to_polars().select(by + ['est', 'se'])
t3 = time.perf_counter()
sys.stdout.write(out.write_csv())
print(f'# import {t1 - t0:.2f} s, read {t2 - t1:.2f} s, design+estimate {t3 - t2:.2f} s')
""" % {"by": BY, "nreps": NREPS}


def parse_migstat(text):
    """{domain key: (est, se)} from `migstat estimate --format csv`."""
    import csv
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        sys.exit(f"migstat printed no rows:\n{text}")
    cols = list(rows[0].keys())  # BY..., statistic, estimate, se, cv, lower, upper, n, df
    if any(c not in cols for c in BY + ["statistic", "estimate", "se"]):
        sys.exit(f"unexpected migstat columns {cols}")
    if len({r["statistic"] for r in rows}) != 1:
        sys.exit(f"migstat printed more than one statistic: {sorted({r['statistic'] for r in rows})}")
    return {tuple(r[b] for b in BY): (float(r["estimate"]), float(r["se"])) for r in rows}


def parse_svy(text):
    import csv
    lines = [l for l in text.splitlines() if not l.startswith("#")]
    note = next((l[2:] for l in text.splitlines() if l.startswith("#")), "")
    rows = list(csv.DictReader(lines))
    return {tuple(r[b] for b in BY): (float(r["est"]), float(r["se"])) for r in rows}, note


def rel(a, b):
    m = max(abs(a), abs(b))
    return 0.0 if m == 0 else abs(a - b) / m


def agreement(mig, sv):
    """Largest relative difference of the estimates and of the SEs, the domains each is at, and
    the domains only one side has."""
    only = sorted(set(mig) ^ set(sv))
    common = sorted(set(mig) & set(sv))
    if not common:
        return None, None, None, None, only
    e = max(common, key=lambda k: rel(mig[k][0], sv[k][0]))
    s = max(common, key=lambda k: rel(mig[k][1], sv[k][1]))
    return rel(mig[e][0], sv[e][0]), e, rel(mig[s][1], sv[s][1]), s, only


CASES = [
    # label, design, migstat statistic flags, svy statistic
    ("1. replicate total EMP", "rep", ["--total", "EMP"], "total"),
    ("2. replicate mean EMP", "rep", ["--mean", "EMP"], "mean"),
    ("3. replicate ratio EMP/LF", "rep", ["--ratio", "EMP/LF"], "ratio"),
    ("4. Taylor total EMP", "taylor", ["--total", "EMP"], "total"),
    ("5. Taylor mean EMP", "taylor", ["--mean", "EMP"], "mean"),
    ("6. Taylor ratio EMP/LF", "taylor", ["--ratio", "EMP/LF"], "ratio"),
]
DESIGNS = {
    "rep": ["--weight", "WEIGHT", "--replicates", "REPWT*", "--method", "bootstrap", "--scale",
            str(1 / NREPS)],
    "taylor": ["--weight", "WEIGHT", "--strata", "STRATUM", "--psu", "PSU"],
}


def main():
    path = make_parquet(ROWS)
    import pyarrow.parquet as pq
    meta = pq.ParquetFile(path).metadata
    ver = subprocess.run([sys.executable, "-c", "import svy; print(svy.__version__)"],
                         capture_output=True, text=True).stdout.strip() or "?"
    print(f"migstat estimate vs svy {ver}: {meta.num_rows:,} rows ({os.path.getsize(path) / 1e6:.0f} MB"
          f" Parquet, {NREPS} bootstrap replicates), by {','.join(BY)}; median of {RUNS},"
          f" peak RSS per process:")
    bad = []
    for label, design, flags, stat in CASES:
        mig = best([BIN, "estimate", path] + DESIGNS[design] + flags + ["--by", ",".join(BY), "--format", "csv"])
        print(f"  {label}")
        print(f"    migstat {mig[0]:7.2f} s, peak {mig[1]:6.0f} MiB")
        try:
            sv = best([sys.executable, "-c", SVY, path, design, stat])
        except SystemExit as e:  # svy could not do it: say so, do not fake it
            print(f"    svy     could not compute this case: {str(e).strip().splitlines()[-1]}")
            bad.append(f"{label}: svy failed")
            continue
        svy_res, note = parse_svy(sv[2])
        print(f"    svy     {sv[0]:7.2f} s, peak {sv[1]:6.0f} MiB   ({note})")
        print(f"    svy / migstat: time {sv[0] / mig[0]:.2f}x, memory {sv[1] / mig[1]:.2f}x")
        de, ke, ds, ks, only = agreement(parse_migstat(mig[2]), svy_res)
        if de is None:
            print(f"    !!! DISAGREEMENT: no domain in common; only one side: {only}")
            bad.append(f"{label}: no common domain")
            continue
        print(f"    agreement over {len(svy_res)} domains: max rel. diff estimate {de:.1e}"
              f" ({'/'.join(ke)}), SE {ds:.1e} ({'/'.join(ks)})")
        for what, d, k in (("estimate", de, ke), ("SE", ds, ks)):
            if d > TOL:
                print(f"    !!! DISAGREEMENT: {what} differs by {d:.3e} (> {TOL:g}) at {'/'.join(k)}")
                bad.append(f"{label}: {what} {d:.1e}")
        if only:
            print(f"    !!! DISAGREEMENT: domains reported by one side only: {only}")
            bad.append(f"{label}: domain sets differ")
    if bad:
        print("!!! migstat and svy DISAGREE on: " + "; ".join(bad))
    else:
        print(f"all estimates and SEs agree within {TOL:g}")


if __name__ == "__main__":
    main()
