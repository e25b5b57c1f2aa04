"""Whole-CLI benchmarks for `make bench`, side by side with DuckDB and polars.

1. `migstat run` on a generated Thai LFS (N persons, 200 strata x 10 PSUs, 80 replicates): wall
   time and peak memory of the whole process, with Taylor standard errors (the shipped
   pipeline's; with and without microdata) and with replicate ones; then the same survey
   shipped as Parquet and as SPSS (typed numbers), with DuckDB on the Parquet file.
2. `migstat estimate` with 80 replicate weights by three breakdowns on a 2M-row Parquet file
   (a total with and without `--mse`, a mean, a ratio; on all threads and on one), against a
   whole `python -c` process running DuckDB on only the same 81 weighted sums per cell with one
   GROUP BY on the same file, and polars' group_by doing the same sums; then the total with
   `--mse` on the same table as CSV, against DuckDB's `read_csv` of it.

Times are medians of RUNS runs (default 5, `MIGSTAT_BENCH_RUNS`); memory is the peak RSS of each
process (GNU time), the largest over the runs.

Usage: python benches/compare.py BINARY [PERSONS[,PERSONS...]]
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
PERSONS = [int(n) for n in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1_000_000]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(tempfile.gettempdir(), "migstat-bench-cli")
os.makedirs(WORK, exist_ok=True)


GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def timed(cmd, **kw):
    """Wall seconds and peak RSS (MiB) of one child process. The peak comes from GNU time when
    it is installed: a child forked from this Python process would otherwise count the parent's
    memory it had before exec."""
    with tempfile.NamedTemporaryFile("w+") as mem:
        full = [GNU_TIME, "-f", "%M", "-o", mem.name] + cmd if GNU_TIME else cmd
        t = time.perf_counter()
        out = subprocess.run(full, capture_output=True, text=True, **kw)
        secs = time.perf_counter() - t
        if out.returncode != 0:
            sys.exit(f"{cmd[0]} failed:\n{out.stdout}\n{out.stderr}")
        if GNU_TIME:
            peak = float(mem.read().strip().splitlines()[-1]) / 1024.0
        else:
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return secs, peak, out.stdout


RUNS = int(os.environ.get("MIGSTAT_BENCH_RUNS", "5"))


def best(cmd, runs=None, **kw):
    """Median wall seconds, largest peak MiB and the first run's stdout over `runs` runs."""
    results = [timed(cmd, **kw) for _ in range(runs or RUNS)]
    secs = sorted(r[0] for r in results)
    return secs[len(secs) // 2], max(r[1] for r in results), results[0][2]


def synth(n, out):
    if not os.path.exists(os.path.join(out, "tha_lfs_synth_persons.csv")):
        timed([BIN, "synth", "--country", "THA", "--persons", str(n), "--strata", "200",
               "--psus-per-stratum", "10", "--replicates", "80", "--out", out])


DUCK_CSV = """
import duckdb, sys
p = sys.argv[1]
sums = ', '.join(['COUNT(*)', 'SUM(WEIGHT)'] + [f'SUM(REPWT{i})' for i in range(1, 81)])
q = f\"\"\"SELECT YEAR, QTR, SEX, AGE // 5 AS AGE5, EDUC, LFS, BIRTH_CTRY <> 'THA' AS FB,
        NATION <> 'THA' AS FC, {sums} FROM read_csv('{p}') GROUP BY ALL\"\"\"
print(len(duckdb.sql(q).fetchall()))
"""


def run_pipeline(n):
    """`migstat run` (with and without microdata) and `migstat validate` on the generated
    survey, beside one DuckDB process reading the same CSV into the same weighted sums."""
    data = os.path.join(WORK, f"tha-{n}")
    synth(n, data)
    text = open(os.path.join(REPO, "pipelines/tha_lfs_synth.toml")).read()
    text = text.replace("../sample_data/synth/", data + "/").replace("scale = 0.05", "scale = 0.0125").replace(
        "replicate_count = 20", "replicate_count = 80")
    pipe = os.path.join(data, "tha_bench.toml")
    open(pipe, "w").write(text)
    # The same survey with replicate standard errors (the replicate weights are then kept).
    rep_pipe = os.path.join(data, "tha_bench_replicate.toml")
    open(rep_pipe, "w").write(text.replace('variance = "taylor"', 'variance = "replicate"'))
    wh = os.path.join(data, "warehouse")
    schemas = ["--schemas", os.path.join(REPO, "schemas")]
    csv = os.path.join(data, "tha_lfs_synth_persons.csv")
    duck = best([sys.executable, "-c", DUCK_CSV, csv])
    print(f"THA {n:,} persons, 80 replicates ({os.path.getsize(csv) / 1e9:.2f} GB of CSV; median of {RUNS}):")
    print(f"  python -c DuckDB read_csv + count and 81 sums by 8 columns: {duck[0]:.2f} s, peak {duck[1]:.0f} MiB")
    for label, cmd in [
        ("run --no-microdata", [BIN, "run", pipe, "--warehouse", wh, "--force", "--no-microdata"] + schemas),
        ("run (microdata written)", [BIN, "run", pipe, "--warehouse", wh, "--force"] + schemas),
        ("run --no-microdata, replicate SEs",
         [BIN, "run", rep_pipe, "--warehouse", wh, "--force", "--no-microdata"] + schemas),
        ("validate", [BIN, "validate", pipe] + schemas),
    ]:
        secs, peak, _ = best(cmd)
        print(f"  migstat {label:<34} {secs:.2f} s, {n / secs:,.0f} rows/s, peak {peak:.0f} MiB;"
              f" / DuckDB: {secs / duck[0]:.2f}")
    # The same survey shipped as typed Parquet and SPSS files (numbers stored as doubles), read
    # without printing and parsing them; DuckDB runs the same sums on the Parquet file.
    typed = {"parquet": "parquet", "sav": "spss"}
    for fmt, kind in typed.items():
        out = os.path.join(WORK, f"tha-{n}-{fmt}")
        if not os.path.exists(os.path.join(out, f"tha_lfs_synth_persons.{fmt}")):
            timed([BIN, "synth", "--country", "THA", "--persons", str(n), "--strata", "200",
                   "--psus-per-stratum", "10", "--replicates", "80", "--format", fmt, "--out", out])
        t = text.replace(data + "/tha_lfs_synth_persons.csv", f"{out}/tha_lfs_synth_persons.{fmt}")
        t = t.replace(data + "/tha_lfs_synth_roster.csv", f"{out}/tha_lfs_synth_roster.{fmt}")
        t = t.replace('type = "csv"', f'type = "{kind}"')
        typed_pipe = os.path.join(out, "tha_bench.toml")
        open(typed_pipe, "w").write(t)
        if fmt == "parquet":
            pq_duck = best([sys.executable, "-c", DUCK_CSV.replace("read_csv", "read_parquet"),
                            os.path.join(out, "tha_lfs_synth_persons.parquet")])
            print(f"  python -c DuckDB, the same on the Parquet file: {pq_duck[0]:.2f} s, peak {pq_duck[1]:.0f} MiB")
        base, against = (pq_duck[0], "Parquet") if fmt == "parquet" else (duck[0], "CSV")
        secs, peak, _ = best([BIN, "run", typed_pipe, "--warehouse", wh, "--force", "--no-microdata"] + schemas)
        print(f"  migstat {'run --no-microdata, ' + kind + ' input':<34} {secs:.2f} s, {n / secs:,.0f} rows/s,"
              f" peak {peak:.0f} MiB; / DuckDB ({against}): {secs / base:.2f}")


def make_parquet(n):
    data = os.path.join(WORK, f"tha-{n}")
    synth(n, data)
    path = os.path.join(data, "est2.parquet")
    if not os.path.exists(path):
        import duckdb
        reps = ", ".join(f"REPWT{i}" for i in range(1, 81))
        duckdb.sql(f"""COPY (SELECT SEX, CASE WHEN AGE < 25 THEN 'Y15-24' WHEN AGE < 55 THEN 'Y25-54' ELSE 'YGE55' END AS AGEB,
                  CASE WHEN BIRTH_CTRY = 'THA' THEN 'NATIVE' ELSE 'FOREIGN' END AS CBR,
                  CASE WHEN LFS = 1 THEN 1.0 ELSE 0.0 END AS EMP,
                  CASE WHEN LFS IN (1, 2) THEN 1.0 ELSE 0.0 END AS LF,
                  WEIGHT, {reps}
           FROM read_csv('{data}/tha_lfs_synth_persons.csv', all_varchar=false) WHERE AGE >= 15 LIMIT 2000000)
           TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)""")
    return path


def make_csv(parquet):
    """The estimate file as CSV (what `estimate` reads through the pipeline's text reader)."""
    path = parquet[: -len(".parquet")] + ".csv"
    if not os.path.exists(path):
        import duckdb
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{path}' (HEADER)")
    return path


DUCK = """
import duckdb, sys
p = sys.argv[1]
src = f"read_parquet('{p}')" if p.endswith('.parquet') else f"read_csv('{p}')"
sums = ', '.join(['SUM(WEIGHT*EMP)'] + [f'SUM(REPWT{i}*EMP)' for i in range(1, 81)])
print(len(duckdb.sql(f"SELECT SEX, AGEB, CBR, {sums} FROM {src} GROUP BY ALL").fetchall()))
"""

POLARS = """
import polars as pl, sys
p = sys.argv[1]
cols = ['WEIGHT'] + [f'REPWT{i}' for i in range(1, 81)]
df = pl.scan_parquet(p).group_by(['SEX', 'AGEB', 'CBR']).agg([(pl.col(c) * pl.col('EMP')).sum() for c in cols]).collect()
print(df.height)
"""


def estimate_vs_engines():
    path = make_parquet(max(max(PERSONS), 2_600_000))
    rows = subprocess.run([sys.executable, "-c", "import pyarrow.parquet as pq,sys;print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)", path],
                          capture_output=True, text=True).stdout.strip()
    design = [BIN, "estimate", path, "--weight", "WEIGHT", "--replicates", "REPWT*", "--method", "bootstrap",
              "--scale", "0.0125"]
    tail = ["--by", "SEX,AGEB,CBR", "--format", "csv"]
    one = {**os.environ, "RAYON_NUM_THREADS": "1"}
    runs = [
        ("total, --mse", ["--mse", "--total", "EMP"]),
        ("total", ["--total", "EMP"]),
        ("mean", ["--mean", "EMP"]),
        ("ratio EMP/LF", ["--ratio", "EMP/LF"]),
    ]
    duck = best([sys.executable, "-c", DUCK, path])
    pol = best([sys.executable, "-c", POLARS, path])
    print(f"estimate on {rows} rows x 81 weights, 3 breakdowns (median of {RUNS}; peak RSS per process):")
    print(f"  python -c DuckDB (81 sums, one GROUP BY):   {duck[0]:.2f} s, peak {duck[1]:.0f} MiB")
    print(f"  python -c polars group_by (81 sums):        {pol[0]:.2f} s, peak {pol[1]:.0f} MiB")
    for label, stats in runs:
        mig = best(design + stats + tail)
        single = best(design + stats + tail, env=one)
        print(f"  migstat estimate {label:<14} all threads: {mig[0]:.2f} s, peak {mig[1]:.0f} MiB;"
              f" 1 thread: {single[0]:.2f} s, peak {single[1]:.0f} MiB;"
              f" / DuckDB: {mig[0] / duck[0]:.2f}")
    csv = make_csv(path)
    duck = best([sys.executable, "-c", DUCK, csv])
    mig = best([BIN, "estimate", csv] + design[3:] + ["--mse", "--total", "EMP"] + tail)
    print(f"the same table as CSV ({os.path.getsize(csv) / 1e6:.0f} MB):")
    print(f"  python -c DuckDB read_csv (81 sums):         {duck[0]:.2f} s, peak {duck[1]:.0f} MiB")
    print(f"  migstat estimate total, --mse   all threads: {mig[0]:.2f} s, peak {mig[1]:.0f} MiB;"
          f" / DuckDB: {mig[0] / duck[0]:.2f}")

if __name__ == "__main__":
    for n in PERSONS:
        run_pipeline(n)
    estimate_vs_engines()
