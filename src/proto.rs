//! Code generated from `proto/`: messages, tonic services and their proto3 JSON mapping.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

pub mod account {
    tonic::include_proto!("lares.account.v1");
    include!(concat!(env!("OUT_DIR"), "/lares.account.v1.serde.rs"));
}

pub mod gate {
    tonic::include_proto!("gate.intra.v1");
    include!(concat!(env!("OUT_DIR"), "/gate.intra.v1.serde.rs"));
}

/// Serialised descriptors of every proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("lares_descriptor");
