//! `createSignalingClientSync`'s argument checks under perturbation: valid structures with
//! one or more fields changed (versions, string lengths, unterminated arrays, enumerations out
//! of range, tag tables) are either accepted or refused with one of the documented STATUS
//! codes, never a panic (`STATUS_INTERNAL_ERROR`), and an accepted client frees cleanly.

mod common;

use std::ffi::CString;
use std::ptr::null_mut;

use common::zeroed;
use kvs_signaling_c::providers::*;
use kvs_signaling_c::structs::*;
use kvs_signaling_c::types::*;
use kvs_signaling_c::upstream::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

/// What one case changes in a valid pair of structures.
#[derive(Debug, Clone)]
struct Perturbation {
    client_version: u32,
    channel_version: u32,
    client_id_len: usize,
    name_len: Option<usize>,
    arn: Option<(bool, usize)>,
    region_len: Option<usize>,
    endpoint_len: usize,
    role: u32,
    channel_type: u32,
    ttl_seconds: u64,
    caching_policy: u32,
    tags: Option<(usize, usize, usize)>,
}

/// Mostly valid, sometimes not: each field is in range four times out of five, so that a
/// case usually reaches the checks after the first.
fn mostly<T: std::fmt::Debug + Clone + 'static>(
    valid: impl Strategy<Value = T> + 'static,
    invalid: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![4 => valid, 1 => invalid].boxed()
}

fn perturbation() -> impl Strategy<Value = Perturbation> {
    (
        (
            mostly(0u32..=2, 3u32..9),
            mostly(0u32..=1, 2u32..9),
            mostly(1usize..=256, prop_oneof![Just(0usize), Just(257usize)]),
        ),
        (
            mostly(
                (1usize..=256).prop_map(Some),
                prop_oneof![Just(None), (257usize..300).prop_map(Some)],
            ),
            mostly(
                Just(None),
                proptest::option::of((any::<bool>(), 0usize..2100)),
            ),
        ),
        (
            mostly(
                proptest::option::of(1usize..=128),
                (129usize..140).prop_map(Some),
            ),
            mostly(0usize..2000, 2030usize..2100),
            mostly(1u32..=2, prop_oneof![Just(0u32), 3u32..9]),
            mostly(0u32..=1, 2u32..9),
        ),
        (
            mostly(
                prop_oneof![Just(0u64), 5u64..=120],
                prop_oneof![1u64..5, 121u64..200],
            ),
            mostly(0u32..=3, 4u32..9),
            mostly(
                Just(None),
                proptest::option::of((0usize..55, 0usize..140, 0usize..1030)),
            ),
        ),
    )
        .prop_map(
            |((cv, chv, id), (name, arn), (region, endpoint, role, ty), (ttl, policy, tags))| {
                Perturbation {
                    client_version: cv,
                    channel_version: chv,
                    client_id_len: id,
                    name_len: name,
                    arn,
                    region_len: region,
                    endpoint_len: endpoint,
                    role,
                    channel_type: ty,
                    ttl_seconds: ttl,
                    caching_policy: policy,
                    tags,
                }
            },
        )
}

/// Every STATUS a refused configuration may get.
const DOCUMENTED: [STATUS; 13] = [
    STATUS_NULL_ARG,
    STATUS_INVALID_ARG,
    STATUS_INVALID_ARG_LEN,
    STATUS_SIGNALING_INVALID_CLIENT_INFO_VERSION,
    STATUS_SIGNALING_INVALID_CHANNEL_INFO_VERSION,
    STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH,
    STATUS_SIGNALING_INVALID_CHANNEL_NAME_LENGTH,
    STATUS_SIGNALING_INVALID_CHANNEL_ARN_LENGTH,
    STATUS_SIGNALING_INVALID_CHANNEL_ARN,
    STATUS_SIGNALING_INVALID_REGION_LENGTH,
    STATUS_SIGNALING_INVALID_CPL_LENGTH,
    STATUS_SIGNALING_INVALID_MESSAGE_TTL_VALUE,
    STATUS_SIGNALING_INVALID_CLIENT_INFO_CACHE_FILE_PATH_LEN,
];

fn run(p: &Perturbation, provider: *mut AwsCredentialProvider) -> STATUS {
    let mut keep = Vec::new();
    let mut cstr = |s: String| {
        keep.push(CString::new(s).unwrap());
        keep.last().unwrap().as_ptr().cast_mut()
    };
    let mut ci = zeroed::<SignalingClientInfo>();
    ci.version = p.client_version;
    ci.loggingLevel = LOG_LEVEL_SILENT_FOR_TESTS;
    let id_len = p.client_id_len.min(ci.clientId.len());
    ci.clientId[..id_len].fill(b'v' as CHAR); // 257 leaves no terminator
    let mut ch = zeroed::<ChannelInfo>();
    ch.version = p.channel_version;
    ch.pChannelName = p.name_len.map_or(null_mut(), |n| cstr("c".repeat(n)));
    ch.pChannelArn = p.arn.map_or(null_mut(), |(well_formed, n)| {
        let prefix = if well_formed {
            "arn:aws:kinesisvideo:us-west-2:1:channel/x/1"
        } else {
            "nope"
        };
        cstr(format!("{prefix}{}", "a".repeat(n)))
    });
    ch.pRegion = p.region_len.map_or(null_mut(), |n| cstr("r".repeat(n)));
    ch.pControlPlaneUrl = cstr(format!(
        "https://127.0.0.1:9/{}",
        "p".repeat(p.endpoint_len)
    ));
    ch.channelRoleType = p.role;
    ch.channelType = p.channel_type;
    ch.messageTtl = p.ttl_seconds * 10_000_000;
    ch.cachingPolicy = p.caching_policy;
    let mut tags = Vec::new();
    if let Some((count, name_len, value_len)) = p.tags {
        for _ in 0..count {
            tags.push(Tag {
                version: 0,
                name: cstr("n".repeat(name_len)),
                value: cstr("v".repeat(value_len)),
            });
        }
        ch.tagCount = count as u32;
        ch.pTags = if count == 0 {
            null_mut()
        } else {
            tags.as_mut_ptr()
        };
    }
    let mut cb = zeroed::<KvsUpstreamSignalingClientCallbacks>();
    let mut handle = 0;
    // SAFETY: every pointer is valid and every string terminated, as the case built them.
    let status =
        unsafe { createSignalingClientSync(&mut *ci, &mut *ch, &mut *cb, provider, &mut handle) };
    if status == STATUS_SUCCESS {
        // SAFETY: a live handle.
        assert_eq!(unsafe { freeSignalingClient(&mut handle) }, STATUS_SUCCESS);
    }
    status
}

/// Logging off: a few hundred refused configurations would otherwise flood the test log.
const LOG_LEVEL_SILENT_FOR_TESTS: u32 = 7;

#[test]
fn perturbed_configurations_are_accepted_or_refused_by_name() {
    let (key, secret) = (
        CString::new("AKIDEXAMPLE").unwrap(),
        CString::new("secret").unwrap(),
    );
    let mut provider = null_mut();
    // SAFETY: valid strings and out pointer.
    let made = unsafe {
        createStaticCredentialProvider(
            key.as_ptr().cast_mut(),
            0,
            secret.as_ptr().cast_mut(),
            0,
            null_mut(),
            0,
            u64::MAX,
            &mut provider,
        )
    };
    assert_eq!(made, STATUS_SUCCESS);
    let (accepted, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 160,
        ..ProptestConfig::default()
    });
    runner
        .run(&perturbation(), |p| {
            let status = run(&p, provider);
            prop_assert!(
                status == STATUS_SUCCESS || DOCUMENTED.contains(&status),
                "{p:?} gave 0x{status:08x}"
            );
            if status == STATUS_SUCCESS {
                accepted.set(accepted.get() + 1);
            } else {
                refused.set(refused.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    // SAFETY: the provider made above.
    unsafe { freeStaticCredentialProvider(&mut provider) };
    let (accepted, refused) = (accepted.get(), refused.get());
    assert!(
        accepted > 0 && refused > 0,
        "the cases reach both outcomes: {accepted} accepted, {refused} refused"
    );
}
