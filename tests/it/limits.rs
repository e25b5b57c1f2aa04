//! Hostile inputs: decompression bombs, long cells, header names and pipeline strings, duplicate
//! zip members, weights that overflow, designs whose variance cannot be computed, and files
//! `migstat estimate` must refuse. Each ends quickly with exit 1 or 2 and a short, clear message,
//! or publishes flagged cells instead of NaN and infinity.
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use arrow_array::{Array, Float64Array, RecordBatch, StringArray};

use super::common::temp_dir;
use super::common::{migstat, parquet_files, pipeline_for, read_batches, repo, statcan_head};
use super::fuzz::{gzip, pipeline_copy, synth, zip_of};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the binary; returns (exit code, stdout + stderr, seconds).
fn timed(args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = migstat(args);
    (
        out.status.code().unwrap_or(-1),
        text(&out),
        started.elapsed(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `validate` and `run` of the StatCan pipeline on `input`: each ends within `secs` with exit 1
/// or 2 and its expected message (`validate`'s file scan may see the defect before a limit does),
/// prints little, and leaves small reports.
fn refused_by_validate_and_run(dir: &Path, input: &Path, validate: &str, run: &str, secs: u64) {
    let p = pipeline_for(dir, input, "");
    let wh = dir.join("wh");
    let runs = [
        (vec!["validate", s(&p)], validate),
        (vec!["run", s(&p), "--warehouse", s(&wh)], run),
    ];
    for (args, needle) in runs {
        let (code, out, took) = timed(&args);
        assert!(code == 1 || code == 2, "{args:?}: exit {code}: {out}");
        assert!(out.contains(needle), "{args:?}: {out}");
        assert!(out.len() < 4_000, "{} bytes of output", out.len());
        assert!(took < Duration::from_secs(secs), "{args:?} took {took:?}");
    }
    assert!(
        dir_bytes(&wh) < 1_000_000,
        "the warehouse holds {}",
        dir_bytes(&wh)
    );
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[test]
fn zip_of_nul_bytes_is_refused_at_the_line_limit_by_validate_and_run() {
    let dir = temp_dir("limits-nul-zip");
    let zip = dir.join("2024-01-CSV.zip");
    std::fs::write(&zip, zip_of("pub0124.csv", &vec![0u8; 100_000_000])).expect("zip");
    let nul = "the header line holds NUL bytes";
    refused_by_validate_and_run(&dir, &zip, nul, "above the limit max_line_bytes", 30);
}

#[test]
fn gz_of_newlines_is_refused_at_the_expansion_ratio() {
    let dir = temp_dir("limits-gz-bomb");
    let mut body = statcan_head(3).into_bytes();
    body.resize(120_000_000, b'\n');
    let gz = dir.join("month.csv.gz");
    std::fs::write(&gz, gzip(&body)).expect("gz");
    let limit = "above the limit max_expansion_ratio = 100";
    refused_by_validate_and_run(&dir, &gz, limit, limit, 30);
}

/// The StatCan head with the first data row's second cell replaced by `len` bytes of `x`.
fn with_long_cell(len: usize) -> String {
    let head = statcan_head(20);
    let mut lines: Vec<String> = head.split("\r\n").map(str::to_string).collect();
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    cells[1] = "x".repeat(len);
    lines[1] = cells.join(",");
    lines.join("\r\n")
}

#[test]
fn ten_megabyte_cell_is_refused_at_the_line_limit_and_not_echoed() {
    let dir = temp_dir("limits-10mb-cell");
    let csv = dir.join("month.csv");
    std::fs::write(&csv, with_long_cell(10 << 20)).expect("csv");
    let limit = "above the limit max_line_bytes = 1048576";
    refused_by_validate_and_run(&dir, &csv, limit, limit, 30);
}

#[test]
fn long_cell_is_refused_naming_line_column_and_limit_unless_raised() {
    let dir = temp_dir("limits-long-cell");
    let csv = dir.join("month.csv");
    std::fs::write(&csv, with_long_cell(100_000)).expect("csv");
    let p = pipeline_for(&dir, &csv, "");
    let (code, out, _) = timed(&["validate", s(&p)]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(":2: column SURVYEAR: the cell has 100,000 bytes"),
        "{out}"
    );
    assert!(out.contains("max_cell_bytes = 65536"), "{out}");
    // Raised on the command line or in the pipeline, the cell is read (and is a bad year).
    let (code, out, _) = timed(&["validate", s(&p), "--limit", "max_cell_bytes=200000"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        !out.contains("max_cell_bytes") && out.len() < 200_000,
        "{out}"
    );
    let raised = pipeline_for(&dir, &csv, "\n[input.limits]\nmax_cell_bytes = 200_000\n");
    let (code, out, _) = timed(&["validate", s(&raised)]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn long_header_name_is_refused_naming_the_limit() {
    let dir = temp_dir("limits-long-header");
    let head = statcan_head(5);
    let csv = dir.join("month.csv");
    std::fs::write(&csv, format!("{},{head}", "H".repeat(5_000))).expect("csv");
    let p = pipeline_for(&dir, &csv, "");
    let (code, out, _) = timed(&["validate", s(&p)]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("max_header_bytes") && out.contains("5,000 bytes"),
        "{out}"
    );
    assert!(out.len() < 2_000, "{out}");
}

/// `check`, `validate` and `run` of the StatCan pipeline with a `source` of `len` bytes: exit 2
/// with `needle` in a short message.
fn long_source_is_refused(name: &str, len: usize, needle: &str) {
    let dir = temp_dir(name);
    let csv = dir.join("month.csv");
    std::fs::write(&csv, statcan_head(50)).expect("csv");
    let p = pipeline_for(&dir, &csv, "");
    let toml = std::fs::read_to_string(&p).expect("pipeline");
    let long = format!("source = \"BA:{}", "X".repeat(len - 3));
    std::fs::write(&p, toml.replacen("source = \"", &long, 1)).expect("write");
    let wh = dir.join("wh");
    for args in [
        vec!["check", s(&p)],
        vec!["validate", s(&p)],
        vec!["run", s(&p), "--warehouse", s(&wh)],
    ] {
        let (code, out, _) = timed(&args);
        assert_eq!(code, 2, "{args:?}: {}", &out[..out.len().min(2_000)]);
        assert!(out.contains(needle), "{out}");
        assert!(out.len() < 4_000, "{} bytes of output", out.len());
    }
}

#[test]
fn five_megabyte_pipeline_string_is_refused_by_check_validate_and_run() {
    let needle = "the pipeline file has 5,246,";
    long_source_is_refused("limits-toml-5mb", 5 << 20, needle);
}

#[test]
fn long_pipeline_string_is_refused_naming_its_key() {
    let needle = "pipeline.source: a string of 100,015 bytes, more than the 4,096";
    long_source_is_refused("limits-toml-string", 100_000, needle);
}

#[test]
fn pipeline_limits_table_is_checked() {
    let dir = temp_dir("limits-toml-table");
    let csv = dir.join("month.csv");
    std::fs::write(&csv, statcan_head(5)).expect("csv");
    let p = pipeline_for(
        &dir,
        &csv,
        "\n[input.limits]\nmax_cells = 0\nmax_rows = 5\n",
    );
    let (code, out, _) = timed(&["check", s(&p)]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("input.limits.max_cells: must be a whole number"),
        "{out}"
    );
    assert!(
        out.contains("input.limits.max_rows: unknown limit"),
        "{out}"
    );
}

#[test]
fn zip_with_two_members_of_one_name_is_refused_naming_the_member() {
    let dir = temp_dir("limits-dup-member");
    let head = statcan_head(30);
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["pub0124.csv", "pub0199.csv"] {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("member");
        std::io::Write::write_all(&mut z, head.as_bytes()).expect("write");
    }
    let mut bytes = z.finish().expect("zip").into_inner();
    // Rename the second member to the first's name, in its local and its central header.
    let (from, to) = (b"pub0199.csv", b"pub0124.csv");
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(from.len()).position(|w| w == from) {
        bytes[i + at..i + at + to.len()].copy_from_slice(to);
        i += at + 1;
    }
    let zip = dir.join("2024-01-CSV.zip");
    std::fs::write(&zip, bytes).expect("zip");
    let p = pipeline_for(&dir, &zip, "");
    let (code, out, _) = timed(&["validate", s(&p)]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("more than one member named \"pub0124.csv\"") && out.contains(s(&zip)),
        "{out}"
    );
}

/// A small synthetic Thai survey in `dir` with `edit` applied to the persons' and the roster's
/// cells (by column name), and its pipeline.
fn thai_survey(dir: &Path, edit: &dyn Fn(&str, &str) -> Option<String>) -> PathBuf {
    let out = migstat(&[
        "synth",
        "--country",
        "THA",
        "--persons",
        "400",
        "--seed",
        "3",
        "--out",
        s(dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let mut toml =
        std::fs::read_to_string(repo().join("pipelines/tha_lfs_synth.toml")).expect("pipeline");
    for part in ["persons", "roster"] {
        let file = dir.join(format!("tha_lfs_synth_{part}.csv"));
        let csv = std::fs::read_to_string(&file).expect("csv");
        std::fs::write(&file, edit_columns(&csv, edit)).expect("csv");
        let shipped = format!("../sample_data/synth/tha_lfs_synth_{part}.csv");
        toml = toml.replace(&shipped, s(&file));
    }
    let p = dir.join("tha.toml");
    std::fs::write(&p, toml).expect("pipeline");
    p
}

fn edit_columns(csv: &str, edit: &dyn Fn(&str, &str) -> Option<String>) -> String {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let mut out = header.join(",") + "\n";
    for line in lines {
        let cells: Vec<String> = line
            .split(',')
            .zip(&header)
            .map(|(c, h)| edit(h, c).unwrap_or_else(|| c.to_string()))
            .collect();
        out += &(cells.join(",") + "\n");
    }
    out
}

/// (obs_value, se, obs_status, note_indicator) of one observation.
type Published = (Option<f64>, Option<f64>, Option<String>, Option<String>);

fn column<A: Array + Clone + 'static>(b: &RecordBatch, name: &str) -> A {
    let c = b.column_by_name(name);
    c.and_then(|c| c.as_any().downcast_ref::<A>())
        .expect(name)
        .clone()
}

/// Every observation under `wh`.
fn observations(wh: &Path) -> Vec<Published> {
    let mut out = Vec::new();
    for f in parquet_files(&wh.join("observations")) {
        for b in read_batches(&f) {
            let (v, se) = (
                column::<Float64Array>(&b, "obs_value"),
                column::<Float64Array>(&b, "se"),
            );
            let st = column::<StringArray>(&b, "obs_status");
            let note = column::<StringArray>(&b, "note_indicator");
            let num = |a: &Float64Array, i| (!a.is_null(i)).then(|| a.value(i));
            let text = |a: &StringArray, i| (!a.is_null(i)).then(|| a.value(i).to_string());
            out.extend(
                (0..b.num_rows()).map(|i| (num(&v, i), num(&se, i), text(&st, i), text(&note, i))),
            );
        }
    }
    out
}

/// Runs `p` into a fresh warehouse; every observation is finite, and some are suppressed with
/// the non-finite note.
fn only_finite_and_some_flagged(dir: &Path, p: &Path) {
    let wh = dir.join("wh");
    let (code, out, _) = timed(&["run", s(p), "--warehouse", s(&wh)]);
    assert_eq!(code, 0, "{out}");
    let obs = observations(&wh);
    assert!(!obs.is_empty());
    for o in &obs {
        assert!(
            [o.0, o.1].iter().all(|v| v.is_none_or(f64::is_finite)),
            "{o:?}"
        );
    }
    let flagged: Vec<_> = obs
        .iter()
        .filter(|o| o.3.as_deref() == Some("U9:NON_FINITE"))
        .collect();
    assert!(!flagged.is_empty(), "no cell was flagged U9:NON_FINITE");
    for o in flagged {
        assert!(
            o.2.as_deref() == Some("S") && o.0.is_none() && o.1.is_none(),
            "{o:?}"
        );
    }
}

#[test]
fn weights_of_1e300_give_suppressed_cells_not_infinite_standard_errors() {
    let dir = temp_dir("limits-1e300");
    let p = thai_survey(&dir, &|h, _| (h == "WEIGHT").then(|| "1e300".to_string()));
    only_finite_and_some_flagged(&dir, &p);
}

#[test]
fn lonely_psu_average_with_one_psu_per_stratum_gives_suppressed_cells_not_nan() {
    let dir = temp_dir("limits-lonely-average");
    let p = thai_survey(&dir, &|h, _| (h == "EA").then(|| "1".to_string()));
    only_finite_and_some_flagged(&dir, &p);
}

fn estimate(file: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["estimate", s(file), "--weight", "w"];
    args.extend_from_slice(extra);
    let (code, out, _) = timed(&args);
    (code, out)
}

/// `migstat estimate` of a CSV holding `csv`: exit 2 with `needle`.
fn estimate_refuses(name: &str, csv: &str, needle: &str) {
    let dir = temp_dir(name);
    let f = dir.join("input.csv");
    std::fs::write(&f, csv).expect("csv");
    let (code, out) = estimate(&f, &["--total", "y"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(needle), "{out}");
}

#[test]
fn estimate_refuses_a_header_only_file() {
    estimate_refuses(
        "limits-est-header-only",
        "w,y\n",
        "a header but no data rows",
    );
}

#[test]
fn estimate_refuses_duplicate_column_names() {
    let csv = "w,y,y\n1,2,3\n1,4,5\n";
    estimate_refuses("limits-est-dup", csv, "names column `y` more than once");
}

#[test]
fn estimate_refuses_fifos_devices_and_folders_without_parquet_files() {
    let dir = temp_dir("limits-est-not-regular");
    let fifo = dir.join("pipe.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut files = vec![PathBuf::from("/dev/zero")];
    if made.is_ok_and(|s| s.success()) {
        files.push(fifo);
    }
    for f in files {
        let (code, out) = estimate(&f, &["--total", "y"]);
        assert_eq!(code, 2, "{}: {out}", f.display());
        assert!(out.contains("not a regular file"), "{}: {out}", f.display());
    }
    // A folder is a table split over its Parquet files; this one has none (only the fifo).
    let (code, out) = estimate(&dir, &["--total", "y"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("holds no .parquet files"), "{out}");
}

#[test]
fn estimate_prints_empty_values_and_a_warning_instead_of_infinity() {
    let dir = temp_dir("limits-est-non-finite");
    let f = dir.join("huge.csv");
    std::fs::write(&f, "w,y\n1e300,1\n1e300,2\n1e300,3\n").expect("csv");
    let (code, out) = estimate(&f, &["--total", "y", "--format", "csv"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: total:y: not a finite number"),
        "{out}"
    );
    let lower = out.to_lowercase();
    assert!(!lower.contains("inf") && !lower.contains("nan"), "{out}");
}

/// The World Bank's `.xls` with `edit` applied, validated: exit 2 within seconds, naming
/// `needle`, without a panic.
fn damaged_wdi_xls_is_refused(name: &str, edit: impl Fn(&mut Vec<u8>), needle: &str) {
    let dir = temp_dir(name);
    let good =
        repo().join("sample_data/worldbank/API_BX.TRF.PWKR.CD.DT_DS2_en_excel_v2_6000901.xls");
    let mut bytes = std::fs::read(good).expect("xls");
    edit(&mut bytes);
    let xls = dir.join("wdi.xls");
    std::fs::write(&xls, bytes).expect("write");
    let p = repo().join("pipelines/wb_remittances_received.toml");
    let (code, out, took) = timed(&["validate", s(&p), "--input", s(&xls)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(needle) && !out.contains("panicked"), "{out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn fuzz_found_wdi_xls_cell_at_row_65535_column_65535_is_refused_at_max_cells() {
    // Case 0xb3b8081facc8b6e2: a cell record's row and column became 0xFFFF; calamine asked
    // for 137 GB for the sheet and aborted.
    let edit = |b: &mut Vec<u8>| b[166_432..166_436].copy_from_slice(&[0xFF; 4]);
    damaged_wdi_xls_is_refused("limits-xls-far-cell", edit, "max_cells");
}

#[test]
fn fuzz_found_wdi_xls_cell_at_row_65535_column_32767_is_refused_at_max_cells() {
    // Case 0x4c060d7adc69a228: a cell record's row became 0xFFFF and its column 0x7FFF;
    // calamine asked for 64 GiB and aborted.
    let edit = |b: &mut Vec<u8>| b[280_722..280_726].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0x7F]);
    damaged_wdi_xls_is_refused("limits-xls-dimensions", edit, "max_cells");
}

#[test]
fn fuzz_found_wdi_xls_cut_short_is_refused_as_damaged_not_a_panic() {
    // Case 0xc5c3198bb6b16bc4: the file cut after 66,565 bytes made calamine assert.
    let edit = |b: &mut Vec<u8>| b.truncate(66_565);
    damaged_wdi_xls_is_refused("limits-xls-cut", edit, "the workbook is damaged");
}

#[test]
fn xlsx_cell_moved_to_xfd1048576_is_refused_at_max_cells() {
    // One cell reference edited in the worksheet XML made calamine allocate the whole span
    // (512 GiB) and abort; the fuzzer now mutates worksheet members too.
    let dir = temp_dir("limits-xlsx-far-cell");
    let good = synth(&dir, "THA", "xlsx");
    let mut zin = zip::ZipArchive::new(std::fs::File::open(&good).expect("xlsx")).expect("zip");
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut member = zin.by_index(i).expect("member");
        let name = member.name().expect("name").to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut data).expect("read");
        if name.contains("worksheets/") {
            let xml = String::from_utf8(data).expect("xml");
            data = xml.replacen("r=\"B2\"", "r=\"XFD1048576\"", 1).into_bytes();
        }
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        std::io::Write::write_all(&mut z, &data).expect("write");
    }
    let far = dir.join("far.xlsx");
    std::fs::write(&far, z.finish().expect("zip").into_inner()).expect("write");
    let p = pipeline_copy(&dir, "tha_lfs_synth.toml", "excel");
    let (code, out, took) = timed(&["validate", s(&p), "--input", s(&far)]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("1,048,576 rows by 16,384 columns") && out.contains("max_cells"),
        "{out}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A damaged Parquet file kept from the fuzzer: `validate` refuses it (exit 2) and `estimate`
/// ends with 0 or 2, neither with a panic.
fn damaged_parquet_is_refused(name: &str, file: &str) {
    let dir = temp_dir(name);
    let bad = repo().join("tests/data/fuzz").join(file);
    let p = pipeline_copy(&dir, "tha_lfs_synth.toml", "parquet");
    let (code, out, _) = timed(&["validate", s(&p), "--input", s(&bad)]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("the Parquet file is damaged") && !out.contains("panicked"),
        "{out}"
    );
    let (code, out, _) = timed(&["estimate", s(&bad), "--weight", "WEIGHT", "--total", "AGE"]);
    assert!(
        (code == 0 || code == 2) && !out.contains("panicked"),
        "{out}"
    );
}

#[test]
fn fuzz_found_parquet_column_chunk_with_negative_start_is_refused_not_a_panic() {
    // Case 0x1825fb05620eb243 (five flipped bits): the parquet crate asserted on the metadata.
    damaged_parquet_is_refused(
        "limits-pq-start",
        "parquet-column-chunk-negative-start.parquet",
    );
}

#[test]
fn fuzz_found_parquet_bit_chunk_out_of_bounds_is_refused_not_a_panic() {
    // Case 0x143fa3db89bc7b85 (bytes inserted in a page): arrow asserted while decoding.
    damaged_parquet_is_refused("limits-pq-bits", "parquet-bit-chunk-out-of-bounds.parquet");
}

#[test]
fn run_takes_the_same_limit_overrides_as_validate() {
    let dir = crate::common::temp_dir("run-limit");
    let p = crate::common::small_survey(&dir, "lim", 40, &|s| s);
    let wh = dir.join("wh");
    let out = crate::common::migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
        "--limit",
        "max_cell_bytes=2",
    ]);
    let said = crate::common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("max_cell_bytes"), "{said}");
    assert!(crate::common::parquet_files(&wh.join("observations")).is_empty());
    let out = crate::common::migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
        "--limit",
        "no_such_limit=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}
