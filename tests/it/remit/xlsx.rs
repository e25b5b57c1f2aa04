//! An independent path into `.xlsx` files for the tests: the workbook's XML read with plain
//! string search (no calamine, no crosswalk), and copies of a workbook with edited XML parts.
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

fn part(zip: &mut ZipArchive<File>, name: &str) -> String {
    let mut s = String::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("no part {name}"))
        .read_to_string(&mut s)
        .expect("utf-8 XML");
    s
}

/// The value of attribute `name` in a tag's text (`<c r="B3" t="s">` → `r` = `B3`).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    tag[at..].split('"').next()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Text of every `<t>` element in `xml`, concatenated.
fn texts(xml: &str) -> String {
    let mut out = String::new();
    for chunk in xml.split("<t").skip(1) {
        let Some(body) = chunk
            .strip_prefix('>')
            .or_else(|| chunk.split_once('>').map(|x| x.1))
        else {
            continue;
        };
        if let Some((t, _)) = body.split_once("</t>") {
            out.push_str(&unescape(t));
        }
    }
    out
}

/// The path of a sheet's XML part inside the zip.
fn sheet_part(zip: &mut ZipArchive<File>, sheet: &str) -> String {
    let wb = part(zip, "xl/workbook.xml");
    let tag = wb
        .split("<sheet ")
        .map(|t| format!(" {t}"))
        .find(|t| attr(t, "name") == Some(sheet))
        .unwrap_or_else(|| panic!("no sheet {sheet}"));
    let rid = attr(&tag, "r:id").expect("r:id").to_string();
    let rels = part(zip, "xl/_rels/workbook.xml.rels");
    let rel = rels
        .split("<Relationship ")
        .map(|t| format!(" {t}"))
        .find(|t| attr(t, "Id") == Some(rid.as_str()))
        .expect("relationship");
    format!("xl/{}", attr(&rel, "Target").expect("target"))
}

/// Every cell of a sheet: reference (`B3`) → shown value, in document order.
pub fn cells(path: &Path, sheet: &str) -> Vec<(String, String)> {
    let mut zip = ZipArchive::new(File::open(path).expect("xlsx")).expect("zip");
    let strings: Vec<String> = part(&mut zip, "xl/sharedStrings.xml")
        .split("<si>")
        .skip(1)
        .map(texts)
        .collect();
    let name = sheet_part(&mut zip, sheet);
    let xml = part(&mut zip, &name);
    let mut out = Vec::new();
    for chunk in xml.split("<c ").skip(1) {
        let tag = format!(" {}", chunk.split('>').next().unwrap_or(""));
        let Some(r) = attr(&tag, "r") else { continue };
        let Some(v) = chunk
            .split_once("<v>")
            .and_then(|(_, b)| b.split_once("</v>"))
        else {
            continue;
        };
        let shown = match attr(&tag, "t") {
            Some("s") => strings[v.0.parse::<usize>().expect("string index")].clone(),
            _ => unescape(v.0),
        };
        out.push((r.to_string(), shown));
    }
    out
}

fn split_ref(r: &str) -> (String, u32) {
    let col: String = r.chars().take_while(char::is_ascii_alphabetic).collect();
    (col.clone(), r[col.len()..].parse().expect("row number"))
}

/// The number at (row labelled `row` in column A, column labelled `col` in the header row).
pub fn lookup(path: &Path, sheet: &str, row: &str, col: &str) -> (f64, String) {
    let cells = cells(path, sheet);
    let row_no = cells
        .iter()
        .map(|(r, v)| (split_ref(r), v))
        .find(|((c, _), v)| c == "A" && v.trim() == row)
        .map(|((_, n), _)| n)
        .unwrap_or_else(|| panic!("no row {row}"));
    let col_letters = cells
        .iter()
        .map(|(r, v)| (split_ref(r), v))
        .find(|((c, _), v)| c != "A" && v.trim() == col)
        .map(|((c, _), _)| c)
        .unwrap_or_else(|| panic!("no column {col}"));
    let at = format!("{col_letters}{row_no}");
    let map: HashMap<_, _> = cells.into_iter().collect();
    let v = map.get(&at).unwrap_or_else(|| panic!("no cell {at}"));
    (v.parse().expect("a number"), at)
}

/// Copies a workbook, passing each XML part through `edit(name, text)`.
pub fn rewrite(src: &Path, dst: &Path, edit: &dyn Fn(&str, String) -> String) {
    let mut zip = ZipArchive::new(File::open(src).expect("xlsx")).expect("zip");
    let mut w = ZipWriter::new(File::create(dst).expect("create"));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let name = f.name().expect("entry name").to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).expect("read entry");
        if name.ends_with(".xml") {
            let text = String::from_utf8(bytes).expect("utf-8 XML");
            bytes = edit(&name, text).into_bytes();
        }
        w.start_file(name, opts).expect("start");
        w.write_all(&bytes).expect("write");
    }
    w.finish().expect("finish");
}

/// Sets the value of cell `at` (a number cell) of the first worksheet part holding it.
pub fn set_number(xml: String, at: &str, value: f64) -> String {
    let key = format!("<c r=\"{at}\"");
    let Some(start) = xml.find(&key) else {
        return xml;
    };
    let v0 = start + xml[start..].find("<v>").expect("<v>") + 3;
    let v1 = v0 + xml[v0..].find("</v>").expect("</v>");
    format!("{}{value}{}", &xml[..v0], &xml[v1..])
}
