//! The writers: each a method of [`Report`](crate::Report) taking an `io::Write`.

mod csv;
mod details;
pub(crate) mod folded;
pub(crate) mod html;
mod json;
mod summary;
pub(crate) mod text;
mod trace;
