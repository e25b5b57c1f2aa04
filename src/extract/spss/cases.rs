//! The data of an SPSS system file as a stream of cases, each a row of 8-byte slots: plain,
//! bytecode-compressed (`.sav`), or bytecode-compressed and then zlib-compressed in blocks
//! (`.zsav`, whose trailer lists the blocks).
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Take};

use flate2::bufread::ZlibDecoder;

use super::dict::{bad, In};

const SPACES: [u8; 8] = *b"        ";

/// Where the cases come from.
pub(super) enum Cases {
    Plain(BufReader<File>),
    Bytecode(Bytecode),
}

/// The bytecode decompressor: blocks of 8 command bytes, each saying what the next slot is.
pub(super) struct Bytecode {
    src: Box<dyn Read>,
    commands: [u8; 8],
    next: usize,
    bias: f64,
    big: bool,
    done: bool,
}

impl Cases {
    /// Sets up reading after the dictionary, at `input.pos`.
    pub fn new(input: In<BufReader<File>>, compression: i32, bias: f64) -> io::Result<Self> {
        let big = input.big;
        let src: Box<dyn Read> = match compression {
            0 => return Ok(Cases::Plain(input.r)),
            1 => Box::new(input.r),
            _ => Box::new(zlib_blocks(input)?),
        };
        Ok(Cases::Bytecode(Bytecode {
            src,
            commands: [0; 8],
            next: 8,
            bias,
            big,
            done: false,
        }))
    }

    /// Fills `case` with the next case; `false` at a clean end of the data. A case cut short is
    /// an error.
    pub fn read(&mut self, case: &mut [[u8; 8]]) -> io::Result<bool> {
        match self {
            Cases::Plain(r) => {
                for (i, slot) in case.iter_mut().enumerate() {
                    if !fill(r, slot)? {
                        return if i == 0 { Ok(false) } else { Err(cut_short()) };
                    }
                }
                Ok(true)
            }
            Cases::Bytecode(b) => b.read(case),
        }
    }
}

fn cut_short() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the file ends inside a case")
}

/// Reads 8 bytes; `false` if the input ended before the first byte.
fn fill(r: &mut dyn Read, buf: &mut [u8; 8]) -> io::Result<bool> {
    let mut got = 0;
    while got < 8 {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(cut_short()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl Bytecode {
    fn read(&mut self, case: &mut [[u8; 8]]) -> io::Result<bool> {
        let mut i = 0;
        while i < case.len() {
            if self.done {
                return if i == 0 { Ok(false) } else { Err(cut_short()) };
            }
            if self.next == 8 {
                if !fill(&mut self.src, &mut self.commands)? {
                    self.done = true;
                    continue;
                }
                self.next = 0;
            }
            let code = self.commands[self.next];
            self.next += 1;
            case[i] = match code {
                0 => continue,
                252 => {
                    self.done = true;
                    continue;
                }
                253 => {
                    let mut raw = [0u8; 8];
                    if !fill(&mut self.src, &mut raw)? {
                        return Err(cut_short());
                    }
                    raw
                }
                254 => SPACES,
                255 => self.number(-f64::MAX),
                c => self.number(f64::from(c) - self.bias),
            };
            i += 1;
        }
        Ok(true)
    }

    fn number(&self, x: f64) -> [u8; 8] {
        if self.big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }
}

/// The zlib blocks of a `.zsav`, read one after the other as one stream.
struct ZBlocks {
    file: Option<BufReader<File>>,
    current: Option<ZlibDecoder<Take<BufReader<File>>>>,
    sizes: VecDeque<u64>,
}

/// Reads the zsav header and trailer, then leaves the file at the first block.
fn zlib_blocks(mut input: In<BufReader<File>>) -> io::Result<ZBlocks> {
    let header_at = input.pos;
    let zheader = input.i64()?;
    let trailer = input.i64()?;
    let trailer_len = input.i64()?;
    let file_len = input.r.get_ref().metadata()?.len();
    let fits = u64::try_from(trailer)
        .ok()
        .zip(u64::try_from(trailer_len).ok())
        .is_some_and(|(t, l)| t.checked_add(l).is_some_and(|end| end <= file_len));
    if zheader as u64 != header_at || !fits {
        return Err(bad(
            "the zlib trailer is missing or out of place (is the file truncated?)".into(),
        ));
    }
    input.r.seek(SeekFrom::Start(trailer as u64 + 20))?;
    input.pos = trailer as u64 + 20;
    let n = input.i32()?;
    let mut sizes = VecDeque::new();
    for _ in 0..n.max(0) {
        let (_, _, _) = (input.i64()?, input.i64()?, input.i32()?);
        let compressed = input.i32()?;
        sizes.push_back(u64::try_from(compressed).map_err(|_| bad("bad block size".into()))?);
    }
    input.r.seek(SeekFrom::Start(header_at + 24))?;
    Ok(ZBlocks {
        file: Some(input.r),
        current: None,
        sizes,
    })
}

impl Read for ZBlocks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(dec) = &mut self.current {
                let n = dec.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                let dec = self.current.take().ok_or_else(cut_short)?;
                self.file = Some(dec.into_inner().into_inner());
            }
            let Some(size) = self.sizes.pop_front() else {
                return Ok(0);
            };
            let file = self.file.take().ok_or_else(cut_short)?;
            self.current = Some(ZlibDecoder::new(file.take(size)));
        }
    }
}
