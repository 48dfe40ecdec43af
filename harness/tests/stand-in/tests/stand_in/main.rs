//! The stand-in model server over real HTTP.

mod http;
