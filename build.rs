//! Generates the protobuf messages, the tonic services and the proto3 JSON mapping (serde) from
//! `proto/`. A vendored `protoc` is used when none is given, so a fresh machine builds as is.

use std::{env, error::Error, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/lares/account/v1/account.proto",
    "proto/lares/account/v1/service.proto",
    "proto/lares/account/admin/v1/admin.proto",
    "proto/gate/intra/v1/auth_token.proto",
    "proto/lares/gate/v1/validator.proto",
    "proto/lares/notice/v1/notice.proto",
    "proto/lares/notice/admin/v1/notice_admin.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    if env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the environment here.
        unsafe { env::set_var("PROTOC", protoc) };
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = out_dir.join("lares_descriptor.bin");

    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptors)
        .compile_protos(PROTOS, &["proto"])?;

    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&descriptors)?)?
        .ignore_unknown_fields()
        .emit_fields()
        .build(&[".lares", ".gate"])?;

    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
