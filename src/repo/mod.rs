//! Repository indexes: `InRelease` verified, `Release` and `Packages` parsed, from a source.

pub mod clearsign;
pub mod compact;
pub mod indexes;
pub mod packages;
pub mod release;
pub mod signature;
pub mod source;
