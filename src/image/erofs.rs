//! The erofs writer (being written on its own branch).

use std::io::{Seek, Write};

use super::{ImageError, Params, Source};
use crate::output::Node;

/// Writes `nodes` as a erofs image to `out`.
pub fn write<W: Write + Seek>(
    nodes: &[Node],
    _source: &dyn Source,
    _params: &Params,
    _out: &mut W,
) -> Result<(), ImageError> {
    Err(ImageError::Unsupported {
        path: nodes.first().map(|n| n.path.clone()).unwrap_or_default(),
        reason: "not written yet".into(),
    })
}
