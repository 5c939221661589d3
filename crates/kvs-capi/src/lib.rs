//! The KVS WebRTC C SDK's signaling API over the Rust signaling client, for C and ESP-IDF
//! applications: relink against `libkvs_signaling_c` and include
//! `<com/amazonaws/kinesis/video/webrtcclient/Include.h>` from `include/`.
//!
//! Two layers share one library. The default is the upstream C SDK's
//! (`createSignalingClientSync(PSignalingClientInfo, PChannelInfo, …)`, callbacks returning
//! `STATUS`); `#define KVS_SEED_SIGNALING_API` before the include selects the ESP-IDF seed's
//! (`createSignalingClientSync(PSignalingClientConfig, …)`, `connectSignalingChannel`,
//! callbacks returning `VOID`). Both run the same client: reconnects, queueing, credential
//! refresh and clock-skew correction come from `kvs-client`.
//!
//! Threads: calls block the calling thread on the library's own runtime (two workers for the
//! whole process); each client delivers its callbacks on one thread of its own. This is the
//! only crate of the workspace where `unsafe` is allowed; every block says why it is sound.

mod client;
mod config;
mod ffi;
pub mod providers;
mod registry;
mod runtime;
pub mod seed;
mod session;
mod status;
pub mod structs;
pub mod types;
pub mod upstream;
