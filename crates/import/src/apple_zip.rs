//! The Apple Health export archive (`export.zip`): finds `apple_health_export/export.xml`
//! inside and streams it, decompressing as it goes.
//!
//! The archive is read from any `Read + Seek` (a file, a buffer). The entry is handed to
//! [`AppleHealthXml`] as an owned reader over the archive, so an export of any size is
//! never held in memory; its CRC-32 and length are checked when it has been read to the
//! end. An archive cut short loses its central directory, which is at the end, and cannot
//! be opened at all: that is reported as [`ImportError::Archive`].

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Take};
use std::path::Path;

use flate2::Crc;
use flate2::read::DeflateDecoder;
use zip::{CompressionMethod, ZipArchive};

use crate::apple::AppleHealthXml;
use crate::convert::ImportOptions;
use crate::error::{ImportError, Location, Result};

/// Where Apple's exporter puts the document inside the archive.
pub const EXPORT_XML_ENTRY: &str = "apple_health_export/export.xml";

/// The records of an Apple Health archive.
pub type AppleHealthZip<R> = AppleHealthXml<BufReader<ZipEntryReader<R>>>;

/// Opens the archive at `path` and streams its `export.xml`.
pub fn open_zip_path(
    path: impl AsRef<Path>,
    options: ImportOptions,
) -> Result<AppleHealthZip<File>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| ImportError::Io {
        file: name.clone(),
        at: Location::Byte(0),
        source,
    })?;
    open_zip(file, &name, options)
}

/// Opens the archive `archive` (named `name` in errors) and streams its `export.xml`:
/// the entry [`EXPORT_XML_ENTRY`] if present, else the first entry called `export.xml`
/// in any folder (exports made with another language setting name the folder
/// differently).
pub fn open_zip<R: Read + Seek>(
    archive: R,
    name: &str,
    options: ImportOptions,
) -> Result<AppleHealthZip<R>> {
    let archive_error = |detail: String| ImportError::Archive {
        archive: name.to_owned(),
        detail,
    };
    let mut zip = ZipArchive::new(archive)
        .map_err(|e| archive_error(format!("not a readable zip archive: {e}")))?;
    let index = zip.index_for_name(EXPORT_XML_ENTRY).or_else(|| {
        zip.file_names()
            .position(|n| n.is_ok_and(|n| n.rsplit('/').next() == Some("export.xml")))
    });
    let Some(index) = index else {
        return Err(ImportError::MissingEntry {
            archive: name.to_owned(),
            entry: EXPORT_XML_ENTRY.to_owned(),
        });
    };
    let (entry_name, method, start, compressed, size, crc) = {
        let entry = zip
            .by_index_raw(index)
            .map_err(|e| archive_error(format!("entry {index}: {e}")))?;
        if entry.encrypted() {
            return Err(archive_error(format!(
                "{} is encrypted",
                entry.name_raw().escape_ascii()
            )));
        }
        let start = entry
            .data_start()
            .ok_or_else(|| archive_error("entry data offset unknown".to_owned()))?;
        (
            String::from_utf8_lossy(entry.name_raw()).into_owned(),
            entry.compression(),
            start,
            entry.compressed_size(),
            entry.size(),
            entry.crc32(),
        )
    };
    let mut inner = zip.into_inner();
    inner
        .seek(SeekFrom::Start(start))
        .map_err(|e| archive_error(format!("seeking to {entry_name}: {e}")))?;
    let body = inner.take(compressed);
    let body = match method {
        CompressionMethod::Stored => Body::Stored(body),
        CompressionMethod::Deflated => Body::Deflated(DeflateDecoder::new(body)),
        other => {
            return Err(archive_error(format!(
                "{entry_name} uses compression {other}, only stored and deflated are read"
            )));
        }
    };
    let reader = ZipEntryReader {
        body,
        crc: Crc::new(),
        expected_crc: crc,
        expected_size: size,
        read: 0,
    };
    Ok(AppleHealthXml::new(
        BufReader::with_capacity(64 * 1024, reader),
        format!("{name}!{entry_name}"),
        options,
    ))
}

enum Body<R> {
    Stored(Take<R>),
    Deflated(DeflateDecoder<Take<R>>),
}

/// An archive entry's decompressed bytes, checked against the entry's CRC-32 and size
/// when the end is reached.
pub struct ZipEntryReader<R> {
    body: Body<R>,
    crc: Crc,
    expected_crc: u32,
    expected_size: u64,
    read: u64,
}

impl<R: Read> Read for ZipEntryReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.body {
            Body::Stored(r) => r.read(buf)?,
            Body::Deflated(r) => r.read(buf)?,
        };
        self.crc.update(&buf[..n]);
        // `Crc::amount` is 32 bits wide; exports pass 4 GiB.
        self.read += n as u64;
        let read = self.read;
        if read > self.expected_size || (n == 0 && !buf.is_empty() && read != self.expected_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "entry holds {read} bytes or more, the archive says {}",
                    self.expected_size
                ),
            ));
        }
        if n == 0 && !buf.is_empty() && self.crc.sum() != self.expected_crc {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "entry CRC-32 does not match the archive's",
            ));
        }
        Ok(n)
    }
}
