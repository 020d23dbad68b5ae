//! The gRPC wire definitions Switchyard speaks, generated from `protos/`:
//! KServe v2 / Triton (`inference`), TorchServe's inference and management
//! services, and `google.rpc.Status`. Field numbers match the public
//! definitions exactly; see each .proto's header for its source. Modules
//! mirror the proto packages, because generated code names other packages'
//! types by relative paths.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// KServe v2 / Triton: `inference.GRPCInferenceService` and `ModelConfig`.
pub mod inference {
    tonic::include_proto!("inference");
}

/// `google.rpc.Status`, which TorchServe's responses carry.
pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub mod org {
    pub mod pytorch {
        pub mod serve {
            pub mod grpc {
                /// `org.pytorch.serve.grpc.inference.InferenceAPIsService`.
                pub mod inference {
                    tonic::include_proto!("org.pytorch.serve.grpc.inference");
                }
                /// `org.pytorch.serve.grpc.management.ManagementAPIsService`.
                pub mod management {
                    tonic::include_proto!("org.pytorch.serve.grpc.management");
                }
            }
        }
    }
}

/// TorchServe's gRPC services.
pub use org::pytorch::serve::grpc as torchserve;
