//! Credential providers: the C SDK's static, file and IoT providers over the Rust ones, and
//! an application's own `AwsCredentialProvider` called from a library thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use kvs_client::{CSdkFileProvider, IotProvider, IotSettings, ProvideCredentials, ProvideFuture};

use crate::ffi::{StrError, guard, read_str};
use crate::runtime::block_on;
use crate::structs::{AwsCredentialProvider, AwsCredentials};
use crate::types::*;

/// Which constructor made a provider, so that only the matching free function frees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Static,
    File,
    Iot,
}

/// A provider made by this library: the C interface first (so a pointer to this is a
/// pointer to an `AwsCredentialProvider`), then the Rust provider and the credentials last
/// handed out through `getCredentialsFn`.
#[repr(C)]
struct OwnedProvider {
    base: AwsCredentialProvider,
    kind: Kind,
    inner: Arc<dyn ProvideCredentials>,
    handed_out: Mutex<Option<Box<HandedOut>>>,
}

/// Credentials in the C layout with the strings they point into.
struct HandedOut {
    header: AwsCredentials,
    _strings: [Box<[u8]>; 3],
}

/// The providers alive, by address.
fn live() -> &'static Mutex<HashMap<usize, Kind>> {
    static LIVE: std::sync::OnceLock<Mutex<HashMap<usize, Kind>>> = std::sync::OnceLock::new();
    LIVE.get_or_init(Default::default)
}

fn lock_live() -> std::sync::MutexGuard<'static, HashMap<usize, Kind>> {
    live().lock().unwrap_or_else(|p| p.into_inner())
}

/// The Rust provider behind `ptr`: this library's own, or the application's wrapped.
pub(crate) fn resolve(ptr: *mut AwsCredentialProvider) -> Option<Arc<dyn ProvideCredentials>> {
    if ptr.is_null() {
        return None;
    }
    if lock_live().contains_key(&(ptr as usize)) {
        // SAFETY: the address is registered, so it is a live `OwnedProvider` made by `publish`.
        let owned = unsafe { &*ptr.cast::<OwnedProvider>() };
        return Some(owned.inner.clone());
    }
    Some(Arc::new(ApplicationProvider(ProviderPtr(ptr))))
}

/// A provider pointer handed to a library thread.
#[derive(Debug, Clone, Copy)]
struct ProviderPtr(*mut AwsCredentialProvider);

// SAFETY: as with the C SDK, the application keeps its provider alive until it has freed
// every client using it, and the provider may be called from the client's threads.
unsafe impl Send for ProviderPtr {}
// SAFETY: see `Send`; the pointer is only passed to the provider's own function.
unsafe impl Sync for ProviderPtr {}

/// An application's own `AwsCredentialProvider`.
#[derive(Debug)]
struct ApplicationProvider(ProviderPtr);

impl ProvideCredentials for ApplicationProvider {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        let ptr = self.0;
        ProvideFuture::new(async move {
            tokio::task::spawn_blocking(move || call_application_provider(ptr))
                .await
                .unwrap_or_else(|_| {
                    Err(CredentialsError::provider_error(
                        "the application's credential provider panicked or was cancelled",
                    ))
                })
        })
    }
}

fn call_application_provider(ptr: ProviderPtr) -> Result<Credentials, CredentialsError> {
    let fail = |why: &str| Err(CredentialsError::provider_error(why.to_owned()));
    // SAFETY: the application passed a valid provider (see `ProviderPtr`).
    let Some(get) = (unsafe { (*ptr.0).getCredentialsFn }) else {
        return fail("the application's credential provider has no getCredentialsFn");
    };
    let mut out: *mut AwsCredentials = std::ptr::null_mut();
    // SAFETY: calling the provider's own function with itself, as the C SDK does.
    let status = unsafe { get(ptr.0, &mut out) };
    if status != STATUS_SUCCESS {
        return fail(&format!(
            "the application's credential provider returned 0x{status:08x}"
        ));
    }
    if out.is_null() {
        return fail("the application's credential provider returned no credentials");
    }
    // SAFETY: on success the provider hands out credentials it owns until its next call.
    let c = unsafe { &*out };
    if c.version != AWS_CREDENTIALS_CURRENT_VERSION {
        return fail(&format!(
            "the application's credentials have version {}, expected {AWS_CREDENTIALS_CURRENT_VERSION}",
            c.version
        ));
    }
    let field = |p: *mut CHAR, len: UINT32, max: usize, name: &str| {
        if p.is_null() {
            return Ok(String::new());
        }
        // SAFETY: the provider's strings are NUL-terminated or `len` long.
        let bytes = unsafe { crate::ffi::read_bytes(p, len, max) }.map_err(|_| {
            CredentialsError::provider_error(format!("{name} is longer than {max} bytes"))
        })?;
        String::from_utf8(bytes)
            .map_err(|_| CredentialsError::provider_error(format!("{name} is not UTF-8")))
    };
    let key_id = field(
        c.accessKeyId,
        c.accessKeyIdLen,
        MAX_ACCESS_KEY_LEN,
        "accessKeyId",
    )?;
    let secret = field(c.secretKey, c.secretKeyLen, MAX_SECRET_KEY_LEN, "secretKey")?;
    let token = field(
        c.sessionToken,
        c.sessionTokenLen,
        MAX_SESSION_TOKEN_LEN,
        "sessionToken",
    )?;
    if key_id.is_empty() || secret.is_empty() {
        return fail("the application's credentials lack an access key id or secret key");
    }
    Ok(Credentials::new(
        key_id,
        secret,
        (!token.is_empty()).then_some(token),
        expiry_of(c.expiration),
        "application-provider",
    ))
}

/// An expiration in 100 ns since the epoch; `MAX_UINT64` never expires.
fn expiry_of(expiration: UINT64) -> Option<SystemTime> {
    (expiration != u64::MAX).then(|| {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(expiration / 10_000_000)
            + Duration::from_nanos(expiration % 10_000_000 * 100)
    })
}

fn expiration_of(expiry: Option<SystemTime>) -> UINT64 {
    expiry
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| {
            d.as_secs() * 10_000_000 + u64::from(d.subsec_nanos()) / 100
        })
}

/// `getCredentialsFn` of this library's providers, for applications that call it
/// themselves. The credentials stay valid until the next call or the provider's free.
unsafe extern "C" fn owned_get_credentials(
    provider: *mut AwsCredentialProvider,
    out: *mut *mut AwsCredentials,
) -> STATUS {
    guard("getCredentialsFn", || {
        if provider.is_null() || out.is_null() {
            return STATUS_NULL_ARG;
        }
        if !lock_live().contains_key(&(provider as usize)) {
            return STATUS_INVALID_ARG;
        }
        // SAFETY: registered, so a live `OwnedProvider`.
        let owned = unsafe { &*provider.cast::<OwnedProvider>() };
        let inner = owned.inner.clone();
        let credentials = match block_on(Duration::from_secs(15), async move {
            inner.provide_credentials().await
        }) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::warn!(
                    "credential provider failed: {}",
                    kvs_client::error_chain(&e)
                );
                return STATUS_SIGNALING_GET_TOKEN_CALL_FAILED;
            }
            Err(_) => return STATUS_OPERATION_TIMED_OUT,
        };
        let strings = [
            credentials.access_key_id(),
            credentials.secret_access_key(),
            credentials.session_token().unwrap_or(""),
        ]
        .map(|s| {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v.into_boxed_slice()
        });
        let len = |i: usize| (strings[i].len() - 1) as UINT32;
        let header = AwsCredentials {
            version: AWS_CREDENTIALS_CURRENT_VERSION,
            size: (size_of::<AwsCredentials>() + strings.iter().map(|s| s.len()).sum::<usize>())
                as UINT32,
            accessKeyId: strings[0].as_ptr().cast_mut().cast(),
            accessKeyIdLen: len(0),
            secretKey: strings[1].as_ptr().cast_mut().cast(),
            secretKeyLen: len(1),
            sessionToken: strings[2].as_ptr().cast_mut().cast(),
            sessionTokenLen: len(2),
            expiration: expiration_of(credentials.expiry()),
        };
        let mut slot = owned.handed_out.lock().unwrap_or_else(|p| p.into_inner());
        let handed = slot.insert(Box::new(HandedOut {
            header,
            _strings: strings,
        }));
        // SAFETY: `out` was checked non-NULL; the box lives in the provider until replaced.
        unsafe { *out = &mut handed.header };
        STATUS_SUCCESS
    })
}

/// Boxes `inner`, registers it and writes its address to `out`.
fn publish(
    kind: Kind,
    inner: Arc<dyn ProvideCredentials>,
    out: *mut *mut AwsCredentialProvider,
) -> STATUS {
    let boxed = Box::new(OwnedProvider {
        base: AwsCredentialProvider {
            getCredentialsFn: Some(owned_get_credentials),
        },
        kind,
        inner,
        handed_out: Mutex::new(None),
    });
    let ptr = Box::into_raw(boxed).cast::<AwsCredentialProvider>();
    lock_live().insert(ptr as usize, kind);
    // SAFETY: the caller checked `out` is not NULL.
    unsafe { *out = ptr };
    STATUS_SUCCESS
}

/// Frees a provider of `kind` and clears `*pp`.
fn free(kind: Kind, pp: *mut *mut AwsCredentialProvider) -> STATUS {
    if pp.is_null() {
        return STATUS_NULL_ARG;
    }
    // SAFETY: checked non-NULL; points to the application's provider pointer.
    let ptr = unsafe { *pp };
    if ptr.is_null() {
        return STATUS_SUCCESS;
    }
    let mut live = lock_live();
    match live.get(&(ptr as usize)) {
        Some(&k) if k == kind => {
            live.remove(&(ptr as usize));
            drop(live);
            // SAFETY: registered, so made by `publish` with `Box::into_raw`, and now
            // unregistered so it is freed once.
            drop(unsafe { Box::from_raw(ptr.cast::<OwnedProvider>()) });
            // SAFETY: checked non-NULL above.
            unsafe { *pp = std::ptr::null_mut() };
            STATUS_SUCCESS
        }
        Some(k) => {
            let right = match k {
                Kind::Static => "freeStaticCredentialProvider",
                Kind::File => "freeFileCredentialProvider",
                Kind::Iot => "freeIotCredentialProvider",
            };
            tracing::error!("free this credential provider with {right}");
            STATUS_INVALID_ARG
        }
        None => {
            tracing::error!(
                "this credential provider was not made by this library (or was freed already)"
            );
            STATUS_INVALID_ARG
        }
    }
}

/// A required string argument: NULL and over-long ones are refused with the given codes.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string (or `max + 1` readable bytes).
unsafe fn required(ptr: *const CHAR, max: usize, too_long: STATUS) -> Result<String, STATUS> {
    // SAFETY: forwarded from the caller.
    match unsafe { read_str(ptr, max) } {
        Ok(Some(s)) if !s.is_empty() => Ok(s),
        Ok(Some(_)) => Err(STATUS_INVALID_ARG),
        Ok(None) => Err(STATUS_NULL_ARG),
        Err(StrError::TooLong) => Err(too_long),
        Err(StrError::NotUtf8) => Err(STATUS_INVALID_ARG),
    }
}

/// A key, secret or token given with an explicit length (0 means up to the NUL).
///
/// # Safety
/// `ptr` is NULL, or points to `len` bytes (or a NUL-terminated string when `len` is 0).
unsafe fn sized(ptr: *const CHAR, len: UINT32, max: usize) -> Result<String, STATUS> {
    if ptr.is_null() {
        return Err(STATUS_NULL_ARG);
    }
    // SAFETY: forwarded from the caller.
    let bytes =
        unsafe { crate::ffi::read_bytes(ptr, len, max) }.map_err(|_| STATUS_INVALID_ARG_LEN)?;
    String::from_utf8(bytes).map_err(|_| STATUS_INVALID_ARG)
}

/// `createStaticCredentialProvider`: fixed keys; `expiration` in 100 ns since the epoch,
/// `MAX_UINT64` for keys that never expire. Lengths of 0 mean "up to the NUL".
///
/// # Safety
/// The strings are NULL (the token may be) or valid for their lengths; `ppProvider` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn createStaticCredentialProvider(
    accessKeyId: *mut CHAR,
    accessKeyIdLen: UINT32,
    secretKey: *mut CHAR,
    secretKeyLen: UINT32,
    sessionToken: *mut CHAR,
    sessionTokenLen: UINT32,
    expiration: UINT64,
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    guard("createStaticCredentialProvider", || {
        if ppProvider.is_null() {
            return STATUS_NULL_ARG;
        }
        // SAFETY: the caller's strings, with their lengths.
        let parts = unsafe {
            (
                sized(accessKeyId, accessKeyIdLen, MAX_ACCESS_KEY_LEN),
                sized(secretKey, secretKeyLen, MAX_SECRET_KEY_LEN),
                if sessionToken.is_null() {
                    Ok(String::new())
                } else {
                    sized(sessionToken, sessionTokenLen, MAX_SESSION_TOKEN_LEN)
                },
            )
        };
        let (key_id, secret, token) = match parts {
            (Ok(k), Ok(s), Ok(t)) => (k, s, t),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
        };
        if key_id.is_empty() || secret.is_empty() {
            return STATUS_INVALID_ARG;
        }
        let credentials = Credentials::new(
            key_id,
            secret,
            (!token.is_empty()).then_some(token),
            expiry_of(expiration),
            "static",
        );
        publish(Kind::Static, Arc::new(credentials), ppProvider)
    })
}

/// `freeStaticCredentialProvider`: frees and clears `*ppProvider`; NULL inside is a no-op.
///
/// # Safety
/// `ppProvider` is NULL or points to a provider pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeStaticCredentialProvider(
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    guard("freeStaticCredentialProvider", || {
        free(Kind::Static, ppProvider)
    })
}

/// `createFileCredentialProvider`: keys read from the C SDK's credentials file
/// (`CREDENTIALS <key id> [<expiration>] <secret> [<token>]`), re-read before they expire.
/// The file is read once here, so a missing or malformed file fails at once.
///
/// # Safety
/// `pCredentialsFilepath` is NULL or a NUL-terminated string; `ppProvider` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn createFileCredentialProvider(
    pCredentialsFilepath: *mut CHAR,
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    guard("createFileCredentialProvider", || {
        if ppProvider.is_null() {
            return STATUS_NULL_ARG;
        }
        // SAFETY: the caller's string.
        let path =
            match unsafe { required(pCredentialsFilepath, MAX_PATH_LEN, STATUS_INVALID_ARG_LEN) } {
                Ok(p) => p,
                Err(e) => return e,
            };
        if let Err(e) = std::fs::metadata(&path) {
            tracing::error!("cannot open the credentials file {path}: {e}");
            return STATUS_FILE_CREDENTIAL_PROVIDER_OPEN_FILE_FAILED;
        }
        let provider = Arc::new(CSdkFileProvider::new(path.clone()));
        let probe = provider.clone();
        match block_on(Duration::from_secs(5), async move {
            probe.provide_credentials().await
        }) {
            Ok(Ok(_)) => publish(Kind::File, provider, ppProvider),
            Ok(Err(e)) => {
                tracing::error!(
                    "the credentials file {path} is unusable: {}",
                    kvs_client::error_chain(&e)
                );
                STATUS_FILE_CREDENTIAL_PROVIDER_INVALID_FILE_FORMAT
            }
            Err(_) => STATUS_OPERATION_TIMED_OUT,
        }
    })
}

/// `freeFileCredentialProvider`.
///
/// # Safety
/// `ppProvider` is NULL or points to a provider pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeFileCredentialProvider(
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    guard("freeFileCredentialProvider", || {
        free(Kind::File, ppProvider)
    })
}

/// The IoT provider behind both of the C SDK's names.
///
/// # Safety
/// As for `createLwsIotCredentialProvider`.
unsafe fn create_iot(
    endpoint: *mut CHAR,
    cert: *mut CHAR,
    key: *mut CHAR,
    ca: *mut CHAR,
    role_alias: *mut CHAR,
    thing: *mut CHAR,
    out: *mut *mut AwsCredentialProvider,
) -> STATUS {
    if out.is_null() {
        return STATUS_NULL_ARG;
    }
    // SAFETY: the caller's strings.
    let settings = unsafe {
        (
            required(endpoint, MAX_ARN_LEN, STATUS_INVALID_ARG_LEN),
            required(cert, MAX_PATH_LEN, STATUS_INVALID_ARG_LEN),
            required(key, MAX_PATH_LEN, STATUS_INVALID_ARG_LEN),
            read_str(ca, MAX_PATH_LEN).map_err(|_| STATUS_INVALID_CA_CERT_PATH),
            required(
                role_alias,
                MAX_ROLE_ALIAS_LEN,
                STATUS_MAX_ROLE_ALIAS_LEN_EXCEEDED,
            ),
            required(
                thing,
                MAX_IOT_THING_NAME_LEN,
                STATUS_MAX_IOT_THING_NAME_LENGTH,
            ),
        )
    };
    let settings = match settings {
        (Ok(endpoint), Ok(cert), Ok(key), Ok(ca), Ok(role_alias), Ok(thing_name)) => IotSettings {
            endpoint,
            role_alias,
            thing_name,
            cert: cert.into(),
            key: key.into(),
            ca: ca.filter(|c| !c.is_empty()).map(Into::into),
        },
        (Err(e), ..)
        | (_, Err(e), ..)
        | (_, _, Err(e), ..)
        | (_, _, _, Err(e), ..)
        | (_, _, _, _, Err(e), _)
        | (.., Err(e)) => return e,
    };
    match IotProvider::new(&settings) {
        Ok(provider) => publish(Kind::Iot, Arc::new(provider), out),
        Err(e) => {
            tracing::error!("IoT credential provider: {e}");
            STATUS_IOT_FAILED
        }
    }
}

/// `createLwsIotCredentialProvider`: temporary credentials bought with the device's X.509
/// certificate from the IoT credentials endpoint, refreshed before they expire. The
/// certificate, key and CA are read here, so a wrong path fails at once.
///
/// # Safety
/// The strings are NULL (only `caCertPath` may be) or NUL-terminated; `ppProvider` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn createLwsIotCredentialProvider(
    iotGetCredentialEndpoint: *mut CHAR,
    certPath: *mut CHAR,
    privateKeyPath: *mut CHAR,
    caCertPath: *mut CHAR,
    roleAlias: *mut CHAR,
    thingName: *mut CHAR,
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    guard("createLwsIotCredentialProvider", || {
        // SAFETY: forwarded from the caller.
        unsafe {
            create_iot(
                iotGetCredentialEndpoint,
                certPath,
                privateKeyPath,
                caCertPath,
                roleAlias,
                thingName,
                ppProvider,
            )
        }
    })
}

/// `createCurlIotCredentialProvider`: the same provider under the C SDK's curl name.
///
/// # Safety
/// As for `createLwsIotCredentialProvider`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn createCurlIotCredentialProvider(
    iotGetCredentialEndpoint: *mut CHAR,
    certPath: *mut CHAR,
    privateKeyPath: *mut CHAR,
    caCertPath: *mut CHAR,
    roleAlias: *mut CHAR,
    thingName: *mut CHAR,
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    // SAFETY: forwarded from the caller; the two names are one provider.
    unsafe {
        createLwsIotCredentialProvider(
            iotGetCredentialEndpoint,
            certPath,
            privateKeyPath,
            caCertPath,
            roleAlias,
            thingName,
            ppProvider,
        )
    }
}

/// `freeIotCredentialProvider`.
///
/// # Safety
/// `ppProvider` is NULL or points to a provider pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeIotCredentialProvider(
    ppProvider: *mut *mut AwsCredentialProvider,
) -> STATUS {
    guard("freeIotCredentialProvider", || free(Kind::Iot, ppProvider))
}
