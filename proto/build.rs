//! Compiles the .proto files under `protos/` with a vendored protoc, so no
//! system protoc is needed. Bytes fields become `bytes::Bytes`, so tensor
//! payloads decode without copying.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut prost = prost_build::Config::new();
    prost.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .bytes(".")
        .build_client(true)
        .build_server(true)
        .compile_with_config(
            prost,
            &[
                "protos/kserve/grpc_service.proto",
                "protos/torchserve/inference.proto",
                "protos/torchserve/management.proto",
            ],
            &["protos"],
        )?;
    println!("cargo:rerun-if-changed=protos");
    Ok(())
}
