//! The batched, parallel read of an input gives the same frame, findings, quarantine and line
//! numbers whatever the batch size and the number of threads: a delimited file with a BOM,
//! CRLF line ends, blank lines, quoted cells holding line breaks, delimiters and quotes,
//! latin-1 text, a short row, a bad code and a duplicate key, cut at every record boundary.
use migstat::extract::BatchSize;
use migstat::normalize::{normalize_in, Normalized, RecordSpec};
use migstat::pipeline::load_pipeline;

use crate::common::{pipeline_for, statcan_head, temp_dir};

/// Column positions in the StatCan header.
const REC_NUM: usize = 0;
const MARSTAT: usize = 9;
const SEX: usize = 8;
const WHYPT: usize = 32;

/// The first 60 StatCan rows with every kind of trouble, as bytes (latin-1), and the physical
/// line of each data row by its position (1-based rows of the original file).
fn awkward_file() -> (Vec<u8>, Vec<u64>) {
    let text = statcan_head(60);
    let mut lines: Vec<Vec<String>> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    lines[5][WHYPT] = "\"a\r\nb\"".into();
    lines[50][WHYPT] = "\"x,\"\"y\"\"\"".into();
    lines[15][MARSTAT] = "caf\u{e9}".into();
    lines[40][SEX] = "7".into();
    lines[45][REC_NUM] = lines[44][REC_NUM].clone();
    lines[30].pop();
    let mut out = vec![0xEF, 0xBB, 0xBF];
    let mut physical = Vec::new();
    let mut line = 1u64;
    for (i, cells) in lines.iter().enumerate() {
        if i == 10 || i == 20 {
            out.extend_from_slice(b"\r\n");
            line += 1;
        }
        if i > 0 {
            physical.push(line);
        }
        let row = cells.join(",");
        line += row.matches('\n').count() as u64 + 1;
        // latin-1: each char of the row is one byte.
        out.extend(row.chars().map(|c| c as u32 as u8));
        out.extend_from_slice(b"\r\n");
    }
    (out, physical)
}

/// The person file of `pipeline` normalised in batches of `size` on a pool of `threads`.
fn normalized(
    pipeline: &std::path::Path,
    size: BatchSize,
    threads: usize,
) -> migstat::error::Result<Normalized> {
    let (p, schema) = load_pipeline(pipeline, None).expect("pipeline");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let spec = RecordSpec::person(&p, &schema);
        normalize_in(&p, &schema, &spec, None, 1_000, None, size)
    })
}

fn read_all(size: BatchSize, threads: usize, pipeline: &std::path::Path) -> String {
    let n = normalized(pipeline, size, threads).expect("normalize");
    format!(
        "rows read {}\n{:?}\n{:?}\n{:?}",
        n.rows_read, n.frame, n.findings, n.quarantined
    )
}

#[test]
fn every_batch_size_and_thread_count_reads_the_same() {
    let dir = temp_dir("chunks-awkward");
    let csv = dir.join("pub.csv");
    let (bytes, physical) = awkward_file();
    std::fs::write(&csv, &bytes).expect("csv");
    let pipeline = pipeline_for(&dir, &csv, "");
    let one = read_all(
        BatchSize {
            rows: usize::MAX,
            bytes: usize::MAX,
        },
        1,
        &pipeline,
    );
    // The short row and the blank lines are set aside at their physical lines.
    let n = normalized(&pipeline, BatchSize::default(), 2).expect("normalize");
    // The short row is reported at its physical line; blank lines are skipped, not rows.
    let short = n.findings.listed.iter().find(|f| f.rule == "row_width");
    assert_eq!(
        short.map(|f| f.line),
        Some(physical[29]),
        "{:?}",
        n.findings.listed
    );
    assert_eq!(n.rows_read, 60);
    assert!(
        n.frame.line.iter().any(|l| l == physical[6]),
        "the row after the quoted break"
    );
    assert!(
        n.frame.line.iter().any(|l| l == physical[49]),
        "the row with a quoted delimiter loads"
    );
    let dup = n.findings.listed.iter().find(|f| f.rule == "duplicate_key");
    assert_eq!(dup.map(|f| f.line), Some(physical[44]));
    let code = n.findings.listed.iter().find(|f| f.rule == "unknown_code");
    assert_eq!(
        code.map(|f| (f.line, f.value.as_str())),
        Some((physical[39], "7"))
    );
    for rows in [1, 2, 3, 5, 8, 13, 64] {
        for bytes in [1, 100, 1_000, 1 << 20] {
            for threads in [1, 3] {
                let got = read_all(BatchSize { rows, bytes }, threads, &pipeline);
                assert!(
                    got == one,
                    "batches of {rows} rows / {bytes} bytes on {threads} threads differ"
                );
            }
        }
    }
}

#[test]
fn a_quote_never_closed_is_an_error_naming_its_line_not_a_whole_file_in_memory() {
    let dir = temp_dir("chunks-unclosed");
    let csv = dir.join("pub.csv");
    let mut text = statcan_head(5);
    text.push_str("\"6,2024");
    // 40 MB of lines inside the open quote.
    let filler = "x,".repeat(50) + "\r\n";
    for _ in 0..(40 << 20) / filler.len() {
        text.push_str(&filler);
    }
    std::fs::write(&csv, text).expect("csv");
    // Cells of at most 1,000 bytes: a record may span 16 MiB before the reader gives up.
    let pipeline = pipeline_for(&dir, &csv, "\n[input.limits]\nmax_cell_bytes = 1000\n");
    let err = normalized(&pipeline, BatchSize::default(), 2)
        .err()
        .expect("an error");
    let msg = err.to_string();
    assert!(msg.contains("pub.csv"), "{msg}");
    assert!(msg.contains(":7") || msg.contains("line 7"), "{msg}");
    assert!(msg.contains("quote"), "{msg}");
}
