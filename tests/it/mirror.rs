//! `migstat mirror`: the table's rows recomputed independently by DuckDB from the observations and
//! the bilateral migrant stocks of the same warehouse, for the destination side (foreign-born by
//! country of birth) and the origin side (household members abroad by destination).
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{migstat, run_into};
use crate::query::run_python;

const DUCKDB: &str = r#"
import sys, json, duckdb
wh = sys.argv[1]
con = duckdb.connect()
con.execute(f"create view o as select * from read_parquet('{wh}/observations/**/*.parquet', hive_partitioning = false)")
con.execute(f"create view s as select * from read_parquet('{wh}/migrant_stocks_bilateral/*.parquet') where ref_area_kind = 'country' and counterpart_area_kind = 'country' and unit = 'PERSONS'")
con.execute(f"create view m as select * from read_parquet('{wh}/mirror/*.parquet')")
want = con.execute("""
  select 'foreign_born_by_origin' as measure, o.ref_area, substr(o.classif1, 9) as cp, o.time, o.source,
         o.obs_value * 1000 as sv, o.se * 1000 as sse, s.obs_value as rv, s.time as rt
  from o join s on s.ref_area = o.ref_area and s.counterpart_area = substr(o.classif1, 9)
  where o.indicator = 'MST_FORP_SEX_CBR_NB' and o.sex = 'SEX_T' and o.obs_value is not null
    and o.classif1 not in ('CBR_BRT_TOTAL', 'CBR_BRT_X')
  union all
  select 'emigrants_by_destination', o.ref_area, substr(o.classif1, 9), o.time, o.source,
         o.obs_value * 1000, o.se * 1000, s.obs_value, s.time
  from o join s on s.ref_area = substr(o.classif1, 9) and s.counterpart_area = o.ref_area
  where o.indicator = 'MNA_OPOP_SEX_CDS_NB' and o.sex = 'SEX_T' and o.obs_value is not null
    and o.classif1 not in ('CDS_DES_TOTAL', 'CDS_DES_X')
""").fetchall()
got = con.execute("""select measure, ref_area, counterpart_area, time, survey_source, survey_value,
  survey_se, reference_value, reference_time, ratio, within_ci, unit, note from m""").fetchall()
print(json.dumps({"want": want, "got": got}, default=str))
"#;

type Key = (String, String, String, String, String);

fn key(r: &[Value]) -> Key {
    let s = |i: usize| r[i].as_str().unwrap_or("").to_string();
    (s(0), s(1), s(2), s(3), s(4))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn recompute(wh: &Path) -> (BTreeMap<Key, Vec<Value>>, BTreeMap<Key, Vec<Value>>) {
    let out = run_python(DUCKDB, &[wh.to_str().expect("utf8")]);
    let v: Value = serde_json::from_slice(&out).expect("json");
    let rows = |name: &str| -> BTreeMap<Key, Vec<Value>> {
        let list = v[name].as_array().expect("rows").iter();
        list.map(|r| {
            let r = r.as_array().expect("row").clone();
            (key(&r), r)
        })
        .collect()
    };
    (rows("want"), rows("got"))
}

#[test]
fn mirror_rows_equal_duckdb_recomputed_from_the_same_files() {
    let wh = run_into(
        "mirror",
        &[
            "pipelines/arm_lfs_synth.toml",
            "pipelines/tha_lfs_synth.toml",
            "pipelines/wb_bilateral_migrant_stocks.toml",
        ],
    );
    let whs = wh.to_string_lossy().to_string();
    let out = migstat(&["mirror", "--warehouse", &whs]);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("remittances: skipped"), "{log}");
    let (want, got) = recompute(&wh);
    for measure in ["foreign_born_by_origin", "emigrants_by_destination"] {
        let n = want.keys().filter(|k| k.0 == measure).count();
        assert!(n > 0, "the sample warehouse has no {measure} pair");
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, w) in &want {
        let g = &got[k];
        let f = |v: &Value| v.as_f64();
        assert!(
            close(f(&g[5]).expect("sv"), f(&w[5]).expect("sv")),
            "{k:?}: survey value"
        );
        assert!(
            close(f(&g[7]).expect("rv"), f(&w[7]).expect("rv")),
            "{k:?}: reference"
        );
        assert_eq!(g[8], w[8], "{k:?}: reference year");
        let ratio = f(&w[5]).expect("sv") / f(&w[7]).expect("rv");
        assert!(close(f(&g[9]).expect("ratio"), ratio), "{k:?}: ratio");
        let within = f(&w[6]).map(|se| {
            (f(&w[5]).unwrap_or(0.0) - f(&w[7]).unwrap_or(0.0)).abs() <= 1.959_963_984_540_054 * se
        });
        assert_eq!(g[10].as_bool(), within, "{k:?}: within_ci");
        assert_eq!(g[11], "persons");
        let years_differ = !k.3.starts_with(w[8].as_str().unwrap_or(""));
        let noted = g[12]
            .as_str()
            .is_some_and(|n| n.contains("different years"));
        assert_eq!(noted, years_differ, "{k:?}: {:?}", g[12]);
    }
    let _ = std::fs::remove_dir_all(wh);
}
