//! Work cut on one thread, done on the pool, taken back in the order it was cut: the shape of
//! every parallel read (the mapping of batches, the file pass of `validate`, the row groups of
//! `estimate`'s Parquet columns). At most
//! `2 × threads` pieces are in flight, so memory is bounded by the pieces, not by the input.
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, TryRecvError};

/// Calls `next` on this thread for pieces of work until it gives `None`, runs `work(seq,
/// piece)` on the rayon pool, and hands each result to `take` on this thread in the order the
/// pieces came (`seq` 0, 1, 2 …). The first error of `next` or `take` ends it (work already
/// queued finishes and is dropped).
pub fn in_order<P, T, E>(
    mut next: impl FnMut() -> Result<Option<P>, E>,
    work: impl Fn(usize, P) -> T + Sync,
    mut take: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    P: Send,
    T: Send,
{
    let window = 2 * rayon::current_num_threads().max(1);
    let work = &work;
    rayon::in_place_scope(|scope| {
        let (tx, rx) = channel::<(usize, T)>();
        let mut pending = BTreeMap::new();
        let (mut sent, mut taken, mut done) = (0usize, 0usize, false);
        loop {
            while !done && sent - taken < window {
                let Some(piece) = next()? else {
                    done = true;
                    break;
                };
                let (tx, seq) = (tx.clone(), sent);
                sent += 1;
                scope.spawn(move |_| {
                    let _ = tx.send((seq, work(seq, piece)));
                });
            }
            if taken == sent {
                return Ok(());
            }
            let Some((seq, out)) = next_done(&rx) else {
                return Ok(());
            };
            pending.insert(seq, out);
            while let Some(out) = pending.remove(&taken) {
                taken += 1;
                take(out)?;
            }
        }
    })
}

/// The next result. A thread of the pool (a pipeline of a parallel batch, or a caller under
/// `ThreadPool::install`) runs queued work while it waits instead of blocking, which would
/// leave no thread for the pieces it queued.
fn next_done<T>(rx: &Receiver<T>) -> Option<T> {
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => match rayon::yield_now() {
                None => return rx.recv().ok(),
                Some(rayon::Yield::Executed) => {}
                Some(rayon::Yield::Idle) => {
                    std::thread::sleep(std::time::Duration::from_micros(50))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_on_a_one_thread_pool_too() {
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let got = pool.install(|| {
                let mut n = 0u64;
                let mut out = Vec::new();
                in_order::<_, _, crate::error::MigError>(
                    || {
                        n += 1;
                        Ok((n <= 50).then_some(n))
                    },
                    |seq, x| {
                        // Later pieces finish first.
                        std::thread::sleep(std::time::Duration::from_micros(50 * (50 - x)));
                        (seq, x * x)
                    },
                    |r| {
                        out.push(r);
                        Ok(())
                    },
                )
                .expect("in order");
                out
            });
            let want: Vec<(usize, u64)> = (1..=50u64).map(|x| (x as usize - 1, x * x)).collect();
            assert_eq!(got, want, "{threads} threads");
        }
    }
}
