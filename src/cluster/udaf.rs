//! `migstat_partial(spec, columns…)`: the estimation core's partial state of the rows it is
//! given, as a DataFusion aggregate. Its first argument is the [`Spec`] as JSON (a literal); the
//! others are the spec's columns in order. Its value is a list of [`Partial`]s as JSON bytes:
//! the client plans one aggregate per file over a single unsplit scan, so the list holds one
//! partial per file, its rows taken in file order.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BinaryArray};
use arrow_schema::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

use crate::estimate::generic::partial::{FileAccumulator, Partial, Spec};

/// The aggregate's name in plans.
pub const NAME: &str = "migstat_partial";

#[derive(Debug, PartialEq, Eq, Hash)]
struct PartialState {
    signature: Signature,
}

/// The aggregate, for registering on the client, the scheduler and each executor.
pub fn partial_state() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(PartialState {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for PartialState {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let spec: Spec = spec_argument(&args, NAME)?;
        Ok(Box::new(PartialAccumulator {
            spec,
            current: None,
            done: Vec::new(),
        }))
    }
}

/// The spec an aggregate of migstat's takes as its first argument: a JSON text literal.
pub(super) fn spec_argument<T: serde::de::DeserializeOwned>(
    args: &AccumulatorArgs,
    name: &str,
) -> Result<T> {
    let text = args
        .exprs
        .first()
        .and_then(|e| e.downcast_ref::<Literal>())
        .and_then(|l| match l.value() {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => Some(s.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            DataFusionError::Plan(format!(
                "{name}: its first argument must be the spec, a text literal"
            ))
        })?;
    serde_json::from_str(&text).map_err(|e| DataFusionError::Plan(format!("{name}: bad spec: {e}")))
}

/// The non-null values of a binary state column (what `merge_batch` is given).
pub(super) fn binary_states<'a>(states: &'a [ArrayRef], name: &str) -> Result<Vec<&'a [u8]>> {
    let Some(a) = states.first() else {
        return Ok(Vec::new());
    };
    let bin = a
        .as_any()
        .downcast_ref::<BinaryArray>()
        .ok_or_else(|| DataFusionError::Plan(format!("{name}: state is not binary")))?;
    Ok((0..bin.len())
        .filter(|&i| !bin.is_null(i))
        .map(|i| bin.value(i))
        .collect())
}

#[derive(Debug)]
struct PartialAccumulator {
    spec: Spec,
    /// The rows this accumulator was given (created on the first batch).
    current: Option<Box<FileAccumulatorCell>>,
    /// Partials merged in from other accumulators.
    done: Vec<Partial>,
}

/// [`FileAccumulator`] is not `Debug`; this names it in DataFusion's plan dumps.
struct FileAccumulatorCell(FileAccumulator);

impl std::fmt::Debug for FileAccumulatorCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileAccumulator")
    }
}

impl PartialAccumulator {
    fn take(&mut self) -> Result<ScalarValue> {
        let mut list = std::mem::take(&mut self.done);
        if let Some(acc) = self.current.take() {
            let p = acc.0.finish();
            log::info!("{NAME}: partial state of {} rows", p.rows);
            list.push(p);
        }
        let bytes = serde_json::to_vec(&list)
            .map_err(|e| DataFusionError::Execution(format!("{NAME}: {e}")))?;
        Ok(ScalarValue::Binary(Some(bytes)))
    }
}

impl Accumulator for PartialAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // An empty batch (DataFusion hands some to every partition) starts no partial.
        if values.first().is_none_or(|a| a.is_empty()) {
            return Ok(());
        }
        let acc = self.current.get_or_insert_with(|| {
            Box::new(FileAccumulatorCell(FileAccumulator::new(self.spec.clone())))
        });
        acc.0
            .update(values.get(1..).unwrap_or_default())
            .map_err(|e| DataFusionError::Execution(format!("{NAME}: {e}")))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.take()
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.done.len() * 4096
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.take()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for bytes in binary_states(states, NAME)? {
            let list: Vec<Partial> = serde_json::from_slice(bytes)
                .map_err(|e| DataFusionError::Execution(format!("{NAME}: state: {e}")))?;
            self.done.extend(list);
        }
        Ok(())
    }
}
