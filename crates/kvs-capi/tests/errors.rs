//! Every error path of the C API, called exactly as C calls it (through the exported
//! functions): NULL arguments, wrong versions, oversize strings, calls in the wrong state,
//! freeing from a callback; and what the C SDK gets wrong done right: a count of ICE
//! servers at once, `customData` untouched, no callback after free, the repair calls.

mod common;

use std::ffi::CString;
use std::ptr::null_mut;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Service, scratch, set, zeroed};
use kvs_signaling_c::providers::*;
use kvs_signaling_c::seed::*;
use kvs_signaling_c::structs::*;
use kvs_signaling_c::types::*;
use kvs_signaling_c::upstream::*;

/// Strings that outlive the structures pointing at them.
struct Strings(Vec<CString>);

impl Strings {
    fn ptr(&mut self, s: &str) -> *mut CHAR {
        self.0.push(CString::new(s).unwrap());
        self.0.last().unwrap().as_ptr().cast_mut()
    }
}

struct Fixture {
    svc: Service,
    strings: Strings,
    provider: *mut AwsCredentialProvider,
}

impl Fixture {
    fn new(name: &str, turn: bool) -> Self {
        let svc = Service::start(&scratch(name), turn);
        let mut strings = Strings(Vec::new());
        let mut provider = null_mut();
        let (key, secret) = (
            strings.ptr(kvs_service::EXAMPLE_ACCESS_KEY_ID),
            strings.ptr(kvs_service::EXAMPLE_SECRET_ACCESS_KEY),
        );
        // SAFETY: valid strings and out pointer.
        let status = unsafe {
            createStaticCredentialProvider(
                key,
                0,
                secret,
                0,
                null_mut(),
                0,
                u64::MAX,
                &mut provider,
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        Self {
            svc,
            strings,
            provider,
        }
    }

    fn infos(
        &mut self,
        channel: &str,
        role: SIGNALING_CHANNEL_ROLE_TYPE,
    ) -> (Box<SignalingClientInfo>, Box<ChannelInfo>) {
        let mut client = zeroed::<SignalingClientInfo>();
        client.version = SIGNALING_CLIENT_INFO_CURRENT_VERSION;
        client.loggingLevel = 4;
        set(&mut client.clientId, "errors-viewer");
        let mut channel_info = zeroed::<ChannelInfo>();
        channel_info.version = CHANNEL_INFO_CURRENT_VERSION;
        channel_info.pChannelName = self.strings.ptr(channel);
        channel_info.pRegion = self.strings.ptr("us-west-2");
        channel_info.pControlPlaneUrl = self.strings.ptr(self.svc.endpoint());
        channel_info.pCertPath = self.strings.ptr(&self.svc.ca().display().to_string());
        channel_info.channelType = SIGNALING_CHANNEL_TYPE_SINGLE_MASTER;
        channel_info.channelRoleType = role;
        (client, channel_info)
    }

    fn create(
        &mut self,
        client: &mut SignalingClientInfo,
        channel: &mut ChannelInfo,
        callbacks: &mut KvsUpstreamSignalingClientCallbacks,
    ) -> (STATUS, SIGNALING_CLIENT_HANDLE) {
        let mut handle = 0;
        // SAFETY: valid structures.
        let status = unsafe {
            createSignalingClientSync(client, channel, callbacks, self.provider, &mut handle)
        };
        (status, handle)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: the provider made in `new`.
        unsafe { freeStaticCredentialProvider(&mut self.provider) };
    }
}

fn callbacks(custom: u64) -> Box<KvsUpstreamSignalingClientCallbacks> {
    let mut cb = zeroed::<KvsUpstreamSignalingClientCallbacks>();
    cb.version = SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION;
    cb.customData = custom;
    cb
}

#[test]
fn null_arguments_are_refused() {
    let mut fx = Fixture::new("null", false);
    let (mut ci, mut ch) = fx.infos("null", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    let mut cb = callbacks(0);
    let mut handle = 0;
    // SAFETY: each call passes NULL where the C SDK would crash or refuse; the rest is valid.
    unsafe {
        assert_eq!(
            createSignalingClientSync(null_mut(), &mut *ch, &mut *cb, fx.provider, &mut handle),
            STATUS_NULL_ARG
        );
        assert_eq!(
            createSignalingClientSync(&mut *ci, null_mut(), &mut *cb, fx.provider, &mut handle),
            STATUS_NULL_ARG
        );
        assert_eq!(
            createSignalingClientSync(&mut *ci, &mut *ch, null_mut(), fx.provider, &mut handle),
            STATUS_NULL_ARG
        );
        assert_eq!(
            createSignalingClientSync(&mut *ci, &mut *ch, &mut *cb, null_mut(), &mut handle),
            STATUS_NULL_ARG
        );
        assert_eq!(
            createSignalingClientSync(&mut *ci, &mut *ch, &mut *cb, fx.provider, null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(
            kvsSeedCreateSignalingClientSync(null_mut(), null_mut(), null_mut(), null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(freeSignalingClient(null_mut()), STATUS_NULL_ARG);
        assert_eq!(
            signalingClientGetStateString(SIGNALING_CLIENT_STATE_READY, null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(freeStaticCredentialProvider(null_mut()), STATUS_NULL_ARG);
        let mut out = null_mut();
        assert_eq!(
            createStaticCredentialProvider(
                null_mut(),
                0,
                null_mut(),
                0,
                null_mut(),
                0,
                0,
                &mut out
            ),
            STATUS_NULL_ARG
        );
        assert_eq!(
            createFileCredentialProvider(null_mut(), &mut out),
            STATUS_NULL_ARG
        );
        let s = fx.strings.ptr("x");
        assert_eq!(
            createLwsIotCredentialProvider(s, s, s, null_mut(), s, null_mut(), &mut out),
            STATUS_NULL_ARG
        );
    }
    let (status, mut handle) = fx.create(&mut ci, &mut ch, &mut cb);
    assert_eq!(status, STATUS_SUCCESS);
    // SAFETY: a live handle; NULL out-pointers.
    unsafe {
        assert_eq!(
            signalingClientSendMessageSync(handle, null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(
            signalingClientGetIceConfigInfoCount(handle, null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(
            signalingClientGetIceConfigInfo(handle, 0, null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(
            signalingClientGetCurrentState(handle, null_mut()),
            STATUS_NULL_ARG
        );
        assert_eq!(
            signalingClientGetMetrics(handle, null_mut()),
            STATUS_NULL_ARG
        );
        let mut metrics = zeroed::<SignalingClientMetrics>();
        assert_eq!(
            signalingClientGetMetrics(handle, &mut *metrics),
            STATUS_SUCCESS
        );
        assert_eq!(
            metrics.signalingClientStats.numberOfErrors, 5,
            "each failed call is counted"
        );
        assert_eq!(freeSignalingClient(&mut handle), STATUS_SUCCESS);
    }
}

#[test]
fn wrong_versions_are_refused() {
    let mut fx = Fixture::new("versions", false);
    let (mut ci, mut ch) = fx.infos("versions", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    let mut cb = callbacks(0);
    ci.version = SIGNALING_CLIENT_INFO_CURRENT_VERSION + 1;
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_SIGNALING_INVALID_CLIENT_INFO_VERSION
    );
    ci.version = SIGNALING_CLIENT_INFO_CURRENT_VERSION;
    ch.version = CHANNEL_INFO_CURRENT_VERSION + 1;
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_SIGNALING_INVALID_CHANNEL_INFO_VERSION
    );
    ch.version = CHANNEL_INFO_CURRENT_VERSION;
    cb.version = 1;
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_SIGNALING_INVALID_SIGNALING_CALLBACKS_VERSION
    );
    cb.version = 0;

    // Older versions are accepted and read only up to their last field.
    ci.version = 0;
    ci.cacheFilePath = std::ptr::dangling_mut(); // a v1 field: never read for v0
    ch.version = 0;
    ch.cachingPolicy = 99; // a v1 field: never read for v0
    let (status, mut handle) = fx.create(&mut ci, &mut ch, &mut cb);
    assert_eq!(status, STATUS_SUCCESS);

    let mut message = zeroed::<SignalingMessage>();
    message.version = SIGNALING_MESSAGE_CURRENT_VERSION + 1;
    let mut metrics = zeroed::<SignalingClientMetrics>();
    metrics.version = SIGNALING_CLIENT_METRICS_CURRENT_VERSION + 1;
    // SAFETY: valid structures and handle.
    unsafe {
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_SIGNALING_INVALID_SIGNALING_MESSAGE_VERSION
        );
        assert_eq!(
            signalingClientGetMetrics(handle, &mut *metrics),
            STATUS_SIGNALING_INVALID_METRICS_VERSION
        );
        freeSignalingClient(&mut handle);
    }

    // The seed's configuration carries a version too.
    let (ci, ch) = fx.infos("versions", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    let mut config = zeroed::<SignalingClientConfig>();
    config.version = SIGNALING_CLIENT_CONFIG_CURRENT_VERSION + 1;
    config.channelInfo = *ch;
    config.clientInfo = Box::into_raw(ci);
    config.pCredentialProvider = fx.provider;
    let mut seed_cb = zeroed::<KvsSeedSignalingClientCallbacks>();
    let mut handle = 0;
    // SAFETY: valid structures.
    unsafe {
        assert_eq!(
            kvsSeedCreateSignalingClientSync(&mut *config, &mut *seed_cb, null_mut(), &mut handle),
            STATUS_INVALID_ARG
        );
        config.version = 0;
        let mut metrics = zeroed::<SignalingClientMetrics>();
        metrics.version = 7;
        assert_eq!(
            kvsSeedCreateSignalingClientSync(
                &mut *config,
                &mut *seed_cb,
                &mut *metrics,
                &mut handle
            ),
            STATUS_SIGNALING_INVALID_METRICS_VERSION
        );
        assert_eq!(handle, 0, "nothing was created");
        drop(Box::from_raw(config.clientInfo));
    }
}

#[test]
fn oversize_and_malformed_strings_are_refused() {
    let mut fx = Fixture::new("strings", false);
    let mut cb = callbacks(0);
    let long = |n: usize| "a".repeat(n);
    type Setter = fn(&mut ChannelInfo, *mut CHAR);
    let cases: [(Setter, usize, STATUS); 6] = [
        (
            |c, p| c.pChannelName = p,
            MAX_CHANNEL_NAME_LEN + 1,
            STATUS_SIGNALING_INVALID_CHANNEL_NAME_LENGTH,
        ),
        (
            |c, p| c.pChannelArn = p,
            MAX_ARN_LEN + 1,
            STATUS_SIGNALING_INVALID_CHANNEL_ARN_LENGTH,
        ),
        (
            |c, p| c.pRegion = p,
            MAX_REGION_NAME_LEN + 1,
            STATUS_SIGNALING_INVALID_REGION_LENGTH,
        ),
        (
            |c, p| c.pControlPlaneUrl = p,
            MAX_ARN_LEN + 1,
            STATUS_SIGNALING_INVALID_CPL_LENGTH,
        ),
        (
            |c, p| c.pCertPath = p,
            MAX_PATH_LEN + 1,
            STATUS_SIGNALING_INVALID_CERTIFICATE_PATH_LENGTH,
        ),
        (
            |c, p| c.pCustomUserAgent = p,
            MAX_CUSTOM_USER_AGENT_LEN + 1,
            STATUS_SIGNALING_INVALID_AGENT_LENGTH,
        ),
    ];
    for (setter, len, expected) in cases {
        let (mut ci, mut ch) = fx.infos("strings", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
        setter(&mut ch, fx.strings.ptr(&long(len)));
        assert_eq!(
            fx.create(&mut ci, &mut ch, &mut cb).0,
            expected,
            "a string of {len}"
        );
    }

    // A client id with no terminator inside its array, and one the service would refuse.
    let (mut ci, mut ch) = fx.infos("strings", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    ci.clientId.fill(b'a' as CHAR);
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH
    );
    set(&mut ci.clientId, "has space");
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH
    );
    set(&mut ci.clientId, "ok");
    ch.messageTtl = 200 * 10_000_000;
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_SIGNALING_INVALID_MESSAGE_TTL_VALUE
    );
    ch.messageTtl = 0;
    ch.channelRoleType = 7;
    assert_eq!(fx.create(&mut ci, &mut ch, &mut cb).0, STATUS_INVALID_ARG);
    ch.channelRoleType = SIGNALING_CHANNEL_ROLE_TYPE_VIEWER;
    ch.useMediaStorage = 1;
    assert_eq!(
        fx.create(&mut ci, &mut ch, &mut cb).0,
        STATUS_NOT_IMPLEMENTED
    );

    // Providers: keys, aliases and thing names past the C SDK's limits.
    let mut out = null_mut();
    let (key, secret) = (
        fx.strings.ptr(&long(MAX_ACCESS_KEY_LEN + 1)),
        fx.strings.ptr("s"),
    );
    let s = fx.strings.ptr("x");
    let alias = fx.strings.ptr(&long(MAX_ROLE_ALIAS_LEN + 1));
    let thing = fx.strings.ptr(&long(MAX_IOT_THING_NAME_LEN + 1));
    let missing = fx.strings.ptr("/nonexistent/credentials");
    // SAFETY: valid strings and out pointer.
    unsafe {
        assert_eq!(
            createStaticCredentialProvider(key, 0, secret, 0, null_mut(), 0, 0, &mut out),
            STATUS_INVALID_ARG_LEN
        );
        assert_eq!(
            createStaticCredentialProvider(s, 300, secret, 0, null_mut(), 0, 0, &mut out),
            STATUS_INVALID_ARG_LEN
        );
        assert_eq!(
            createLwsIotCredentialProvider(s, s, s, null_mut(), alias, s, &mut out),
            STATUS_MAX_ROLE_ALIAS_LEN_EXCEEDED
        );
        assert_eq!(
            createCurlIotCredentialProvider(s, s, s, null_mut(), s, thing, &mut out),
            STATUS_MAX_IOT_THING_NAME_LENGTH
        );
        assert_eq!(
            createLwsIotCredentialProvider(s, missing, missing, null_mut(), s, s, &mut out),
            STATUS_IOT_FAILED
        );
        assert_eq!(
            createFileCredentialProvider(missing, &mut out),
            STATUS_FILE_CREDENTIAL_PROVIDER_OPEN_FILE_FAILED
        );
        assert!(out.is_null(), "no provider was made");
        // A provider freed with another kind's function is not freed.
        let mut fake = fx.provider;
        assert_eq!(freeIotCredentialProvider(&mut fake), STATUS_INVALID_ARG);
        assert_eq!(fake, fx.provider);
    }

    // Messages: a payload longer than the buffer says, an empty one, a master without a peer.
    let (mut ci, mut ch) = fx.infos("strings", SIGNALING_CHANNEL_ROLE_TYPE_MASTER);
    let (status, mut handle) = fx.create(&mut ci, &mut ch, &mut cb);
    assert_eq!(status, STATUS_SUCCESS);
    // SAFETY: a live handle and valid structures.
    unsafe {
        assert_eq!(signalingClientFetchSync(handle), STATUS_SUCCESS);
        assert_eq!(signalingClientConnectSync(handle), STATUS_SUCCESS);
        let mut message = zeroed::<SignalingMessage>();
        message.messageType = SIGNALING_MESSAGE_TYPE_ANSWER;
        set(&mut message.peerClientId, "viewer-1");
        message.payloadLen = (MAX_SIGNALING_MESSAGE_LEN + 1) as u32;
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_SIGNALING_INVALID_PAYLOAD_LEN_IN_MESSAGE
        );
        message.payloadLen = 0;
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_SIGNALING_NO_PAYLOAD_IN_MESSAGE
        );
        set(&mut message.payload, &"x".repeat(9000));
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_SIGNALING_MAX_MESSAGE_LEN_AFTER_ENCODING,
            "9000 bytes are 12000 of base64, over the service's 10000"
        );
        set(&mut message.payload, "{}");
        set(&mut message.peerClientId, "");
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_SIGNALING_NO_PEER_CLIENT_ID_IN_MESSAGE
        );
        message.messageType = SIGNALING_MESSAGE_TYPE_GO_AWAY;
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_SIGNALING_INVALID_MESSAGE_TYPE
        );
        freeSignalingClient(&mut handle);
    }
}

#[test]
fn calls_in_the_wrong_state_are_refused_and_handles_are_checked() {
    let mut fx = Fixture::new("state", false);
    let (mut ci, mut ch) = fx.infos("state", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    let mut cb = callbacks(0);
    let (status, mut handle) = fx.create(&mut ci, &mut ch, &mut cb);
    assert_eq!(status, STATUS_SUCCESS);
    let mut message = zeroed::<SignalingMessage>();
    message.messageType = SIGNALING_MESSAGE_TYPE_OFFER;
    set(&mut message.payload, "{}");
    let mut state = 0;
    let mut info = null_mut();
    // SAFETY: valid handle and structures.
    unsafe {
        assert_eq!(
            signalingClientGetCurrentState(handle, &mut state),
            STATUS_SUCCESS
        );
        assert_eq!(state, SIGNALING_CLIENT_STATE_NEW);
        assert_eq!(
            signalingClientConnectSync(handle),
            STATUS_INVALID_OPERATION,
            "connect before fetch"
        );
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_INVALID_OPERATION,
            "send before connect"
        );
        assert_eq!(
            signalingClientGetIceConfigInfo(handle, 0, &mut info),
            STATUS_INVALID_ARG,
            "no ICE server yet"
        );
        assert_eq!(signalingClientFetchSync(handle), STATUS_SUCCESS);
        assert_eq!(
            signalingClientSendMessageSync(handle, &mut *message),
            STATUS_INVALID_OPERATION,
            "send before connect"
        );
        assert_eq!(
            signalingClientGetCurrentState(handle, &mut state),
            STATUS_SUCCESS
        );
        assert_eq!(state, SIGNALING_CLIENT_STATE_READY);
        let mut name = null_mut();
        assert_eq!(
            signalingClientGetStateString(state, &mut name),
            STATUS_SUCCESS
        );
        assert_eq!(std::ffi::CStr::from_ptr(name).to_str().unwrap(), "Ready");
        assert_eq!(
            signalingClientGetStateString(SIGNALING_CLIENT_STATE_MAX_VALUE, &mut name),
            STATUS_INVALID_ARG
        );

        let stale = handle;
        assert_eq!(freeSignalingClient(&mut handle), STATUS_SUCCESS);
        assert_eq!(handle, 0, "free clears the handle");
        assert_eq!(
            freeSignalingClient(&mut handle),
            STATUS_SUCCESS,
            "free is idempotent"
        );
        let mut stale_copy = stale;
        assert_eq!(
            freeSignalingClient(&mut stale_copy),
            STATUS_SUCCESS,
            "a stale handle frees nothing"
        );
        assert_eq!(signalingClientFetchSync(stale), STATUS_INVALID_HANDLE_ERROR);
        assert_eq!(
            signalingClientGetCurrentState(stale, &mut state),
            STATUS_INVALID_HANDLE_ERROR
        );
        assert_eq!(
            signalingClientConnectSync(12345),
            STATUS_INVALID_HANDLE_ERROR
        );
    }
}

/// What the callbacks of `callbacks_are_delivered_on_a_library_thread…` saw.
static SEEN_CUSTOM: AtomicU64 = AtomicU64::new(0);
static STATES: AtomicU32 = AtomicU32::new(0);
static FREE_FROM_CALLBACK: AtomicU32 = AtomicU32::new(u32::MAX);
static HANDLE: AtomicU64 = AtomicU64::new(0);
static CALLBACK_THREADS: Mutex<Vec<std::thread::ThreadId>> = Mutex::new(Vec::new());

unsafe extern "C" fn on_state(custom: u64, state: SIGNALING_CLIENT_STATE) -> STATUS {
    SEEN_CUSTOM.store(custom, Ordering::SeqCst);
    STATES.fetch_add(1, Ordering::SeqCst);
    CALLBACK_THREADS
        .lock()
        .unwrap()
        .push(std::thread::current().id());
    if state == SIGNALING_CLIENT_STATE_READY {
        let mut handle = HANDLE.load(Ordering::SeqCst);
        // SAFETY: a valid handle pointer; this is the trap being tested.
        FREE_FROM_CALLBACK.store(
            unsafe { freeSignalingClient(&mut handle) },
            Ordering::SeqCst,
        );
    }
    // The slow callback the free below waits for.
    std::thread::sleep(Duration::from_millis(20));
    STATUS_SUCCESS
}

#[test]
fn callbacks_are_delivered_on_a_library_thread_and_never_after_free() {
    let mut fx = Fixture::new("callbacks", false);
    let (mut ci, mut ch) = fx.infos("callbacks", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    let custom = 0xfeed_face_dead_beef;
    let mut cb = callbacks(custom);
    cb.stateChangeFn = Some(on_state);
    let (status, mut handle) = fx.create(&mut ci, &mut ch, &mut cb);
    assert_eq!(status, STATUS_SUCCESS);
    HANDLE.store(handle, Ordering::SeqCst);
    assert_eq!(signalingClientFetchSync(handle), STATUS_SUCCESS);
    assert_eq!(signalingClientConnectSync(handle), STATUS_SUCCESS);
    let deadline = Instant::now() + Duration::from_secs(10);
    while FREE_FROM_CALLBACK.load(Ordering::SeqCst) == u32::MAX && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        FREE_FROM_CALLBACK.load(Ordering::SeqCst),
        STATUS_INVALID_OPERATION,
        "free from a callback refuses instead of deadlocking"
    );
    assert_eq!(
        SEEN_CUSTOM.load(Ordering::SeqCst),
        custom,
        "customData is passed through untouched"
    );
    {
        let threads = CALLBACK_THREADS.lock().unwrap();
        assert!(
            threads.iter().all(|t| *t == threads[0]),
            "one thread delivers every callback"
        );
        assert_ne!(
            threads[0],
            std::thread::current().id(),
            "and it is not the caller's"
        );
    }
    // SAFETY: a live handle.
    assert_eq!(unsafe { freeSignalingClient(&mut handle) }, STATUS_SUCCESS);
    let after_free = STATES.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        STATES.load(Ordering::SeqCst),
        after_free,
        "no callback once free returned"
    );
}

#[test]
fn ice_config_count_answers_at_once_zero_included() {
    for (turn, expected) in [(false, 0), (true, 2)] {
        let mut fx = Fixture::new(&format!("ice-{turn}"), turn);
        let (mut ci, mut ch) = fx.infos("ice", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
        let mut cb = callbacks(0);
        let (status, mut handle) = fx.create(&mut ci, &mut ch, &mut cb);
        assert_eq!(status, STATUS_SUCCESS);
        let mut count = 99;
        // SAFETY: a live handle and valid out pointers.
        unsafe {
            assert_eq!(
                signalingClientGetIceConfigInfoCount(handle, &mut count),
                STATUS_SUCCESS
            );
            assert_eq!(count, 0, "nothing fetched yet, and no waiting for it");
            assert_eq!(signalingClientFetchSync(handle), STATUS_SUCCESS);
            // Many calls, each answered from what the client holds (the C SDK refetches
            // behind a growing backoff on each call when the service lists none).
            let started = Instant::now();
            for _ in 0..100 {
                assert_eq!(
                    signalingClientGetIceConfigInfoCount(handle, &mut count),
                    STATUS_SUCCESS
                );
                assert_eq!(count, expected);
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no network round trip per call"
            );
            if expected > 0 {
                let mut info = null_mut();
                assert_eq!(
                    signalingClientGetIceConfigInfo(handle, 1, &mut info),
                    STATUS_SUCCESS
                );
                let info: &IceConfigInfo = &*info;
                assert_eq!(info.version, SIGNALING_ICE_CONFIG_INFO_CURRENT_VERSION);
                assert!(info.uriCount >= 1 && info.ttl > 0);
                let uri = std::ffi::CStr::from_ptr(info.uris[0].as_ptr())
                    .to_str()
                    .unwrap();
                assert!(uri.starts_with("turn:"), "{uri}");
                assert_eq!(
                    signalingClientGetIceConfigInfo(handle, expected, &mut null_mut()),
                    STATUS_INVALID_ARG
                );
            }
            freeSignalingClient(&mut handle);
        }
    }
}

/// An application's own provider: the C SDK's interface implemented in "C", handing out a
/// wrong secret until `GOOD` is set.
static GOOD: AtomicU32 = AtomicU32::new(0);
static CALLS: AtomicU32 = AtomicU32::new(0);

#[repr(C)]
struct AppProvider {
    base: AwsCredentialProvider,
    credentials: AwsCredentials,
    key: CString,
    good: CString,
    bad: CString,
}

unsafe extern "C" fn app_get_credentials(
    p: *mut AwsCredentialProvider,
    out: *mut *mut AwsCredentials,
) -> STATUS {
    CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: `p` is the `AppProvider` below (its first field).
    let app = unsafe { &mut *p.cast::<AppProvider>() };
    let secret = if GOOD.load(Ordering::SeqCst) == 1 {
        &app.good
    } else {
        &app.bad
    };
    app.credentials = AwsCredentials {
        version: AWS_CREDENTIALS_CURRENT_VERSION,
        size: 0,
        accessKeyId: app.key.as_ptr().cast_mut(),
        accessKeyIdLen: app.key.as_bytes().len() as u32,
        secretKey: secret.as_ptr().cast_mut(),
        secretKeyLen: secret.as_bytes().len() as u32,
        sessionToken: null_mut(),
        sessionTokenLen: 0,
        expiration: u64::MAX,
    };
    // SAFETY: a valid out pointer.
    unsafe { *out = &mut app.credentials };
    STATUS_SUCCESS
}

#[test]
fn an_application_provider_is_called_and_fetch_starts_a_refused_client_again() {
    let mut fx = Fixture::new("repair", false);
    let mut app = Box::new(AppProvider {
        base: AwsCredentialProvider {
            getCredentialsFn: Some(app_get_credentials),
        },
        // SAFETY: all-zero is valid for `AwsCredentials`.
        credentials: unsafe { std::mem::zeroed() },
        key: CString::new(kvs_service::EXAMPLE_ACCESS_KEY_ID).unwrap(),
        good: CString::new(kvs_service::EXAMPLE_SECRET_ACCESS_KEY).unwrap(),
        bad: CString::new("not-the-secret").unwrap(),
    });
    let (mut ci, mut ch) = fx.infos("repair", SIGNALING_CHANNEL_ROLE_TYPE_VIEWER);
    let mut cb = callbacks(0);
    let mut handle = 0;
    let provider = (&mut *app as *mut AppProvider).cast::<AwsCredentialProvider>();
    // SAFETY: valid structures; `app` outlives the client.
    unsafe {
        assert_eq!(
            createSignalingClientSync(&mut *ci, &mut *ch, &mut *cb, provider, &mut handle),
            STATUS_SUCCESS
        );
        assert!(
            CALLS.load(Ordering::SeqCst) >= 1,
            "credentials are got at creation"
        );
        let refused = signalingClientFetchSync(handle);
        assert_eq!(
            refused, STATUS_SIGNALING_DESCRIBE_CALL_FAILED,
            "a wrong secret fails DescribeSignalingChannel"
        );
        GOOD.store(1, Ordering::SeqCst);
        assert_eq!(
            signalingClientFetchSync(handle),
            STATUS_SUCCESS,
            "the repair call starts the client again"
        );
        assert_eq!(signalingClientConnectSync(handle), STATUS_SUCCESS);
        // The C SDK's samples also re-fetch and re-connect a connected client.
        assert_eq!(signalingClientFetchSync(handle), STATUS_SUCCESS);
        let mut state = 0;
        signalingClientGetCurrentState(handle, &mut state);
        assert_eq!(state, SIGNALING_CLIENT_STATE_READY);
        assert_eq!(signalingClientConnectSync(handle), STATUS_SUCCESS);
        signalingClientGetCurrentState(handle, &mut state);
        assert_eq!(state, SIGNALING_CLIENT_STATE_CONNECTED);
        let mut metrics = zeroed::<SignalingClientMetrics>();
        metrics.version = 1;
        assert_eq!(
            signalingClientGetMetrics(handle, &mut *metrics),
            STATUS_SUCCESS
        );
        assert!(metrics.signalingClientStats.numberOfErrors >= 1);
        assert!(metrics.signalingClientStats.connectClientTime < 15_000);
        assert_eq!(freeSignalingClient(&mut handle), STATUS_SUCCESS);
    }
    drop(app);
}
