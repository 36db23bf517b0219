//! Code generated from `proto/`: messages, tonic services and their proto3 JSON mapping. The
//! modules follow the protobuf packages (generated code refers across them by relative path);
//! short aliases name the ones the service uses.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

pub mod gate {
    pub mod intra {
        pub mod v1 {
            tonic::include_proto!("gate.intra.v1");
            include!(concat!(env!("OUT_DIR"), "/gate.intra.v1.serde.rs"));
        }
    }
    pub use intra::v1::*;
}

pub mod lares {
    pub mod account {
        pub mod v1 {
            tonic::include_proto!("lares.account.v1");
            include!(concat!(env!("OUT_DIR"), "/lares.account.v1.serde.rs"));
        }
        pub mod admin {
            pub mod v1 {
                tonic::include_proto!("lares.account.admin.v1");
                include!(concat!(env!("OUT_DIR"), "/lares.account.admin.v1.serde.rs"));
            }
        }
    }
    pub mod gate {
        pub mod v1 {
            tonic::include_proto!("lares.gate.v1");
            include!(concat!(env!("OUT_DIR"), "/lares.gate.v1.serde.rs"));
        }
    }
    pub mod notice {
        pub mod v1 {
            tonic::include_proto!("lares.notice.v1");
            include!(concat!(env!("OUT_DIR"), "/lares.notice.v1.serde.rs"));
        }
        pub mod admin {
            pub mod v1 {
                tonic::include_proto!("lares.notice.admin.v1");
                include!(concat!(env!("OUT_DIR"), "/lares.notice.admin.v1.serde.rs"));
            }
        }
    }
}

/// The account admin API (`lares.account.admin.v1`).
pub use self::lares::account::admin::v1 as account_admin;
/// The client API (`lares.account.v1`).
pub use self::lares::account::v1 as account;
/// Token validation and revocations for gateways (`lares.gate.v1`).
pub use self::lares::gate::v1 as validator;
/// The notice admin API (`lares.notice.admin.v1`).
pub use self::lares::notice::admin::v1 as notice_admin;
/// Notices for clients (`lares.notice.v1`).
pub use self::lares::notice::v1 as notice;

/// Serialised descriptors of every proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("lares_descriptor");
