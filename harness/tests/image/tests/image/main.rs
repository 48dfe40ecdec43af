//! The image tests, one binary, against real Docker (see docs/image.md). `pins::` needs no Docker:
//! `cargo test -p krill-image-tests --test image -- pins::`.

mod compile_cache;
mod image;
mod pins;
mod pod;
mod postgres;
