//! The `ims` command's library: [`up`] runs the whole IMS core (HSS, I-CSCF, S-CSCF, P-CSCF)
//! in one process, so the binary and the end-to-end tests start it the same way.

pub mod up;
