//! The credential providers of the C API doing their job against the local service: the C
//! SDK's credentials file, and AWS IoT with a device certificate the service issued, each
//! getting a client to CONNECTED; and a provider's own `getCredentialsFn` as applications
//! call it.

mod common;

use std::ffi::{CStr, CString};
use std::ptr::null_mut;

use common::{Service, scratch, set, zeroed};
use kvs_signaling_c::providers::*;
use kvs_signaling_c::structs::*;
use kvs_signaling_c::types::*;
use kvs_signaling_c::upstream::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Creates a viewer of `channel` signing with `provider`, fetches and connects it, frees it.
fn connect_with(svc: &Service, channel: &str, provider: *mut AwsCredentialProvider) -> STATUS {
    let (name, region, endpoint, ca) = (
        c(channel),
        c("us-west-2"),
        c(svc.endpoint()),
        c(&svc.ca().display().to_string()),
    );
    let mut ci = zeroed::<SignalingClientInfo>();
    ci.version = SIGNALING_CLIENT_INFO_CURRENT_VERSION;
    set(&mut ci.clientId, "provider-viewer");
    let mut ch = zeroed::<ChannelInfo>();
    ch.version = CHANNEL_INFO_CURRENT_VERSION;
    ch.pChannelName = name.as_ptr().cast_mut();
    ch.pRegion = region.as_ptr().cast_mut();
    ch.pControlPlaneUrl = endpoint.as_ptr().cast_mut();
    ch.pCertPath = ca.as_ptr().cast_mut();
    ch.channelRoleType = SIGNALING_CHANNEL_ROLE_TYPE_VIEWER;
    let mut cb = zeroed::<KvsUpstreamSignalingClientCallbacks>();
    let mut handle = 0;
    // SAFETY: valid structures whose strings outlive the calls.
    unsafe {
        let mut status =
            createSignalingClientSync(&mut *ci, &mut *ch, &mut *cb, provider, &mut handle);
        if status == STATUS_SUCCESS {
            status = signalingClientFetchSync(handle);
        }
        if status == STATUS_SUCCESS {
            status = signalingClientConnectSync(handle);
        }
        freeSignalingClient(&mut handle);
        status
    }
}

#[test]
fn the_c_sdk_credentials_file_signs_a_client_that_connects() {
    let dir = scratch("file-provider");
    let svc = Service::start(&dir, false);
    let file = dir.join("credentials");
    std::fs::write(
        &file,
        format!(
            "CREDENTIALS {} {}\n",
            kvs_service::EXAMPLE_ACCESS_KEY_ID,
            kvs_service::EXAMPLE_SECRET_ACCESS_KEY
        ),
    )
    .unwrap();
    let path = c(&file.display().to_string());
    let mut provider = null_mut();
    // SAFETY: a valid path and out pointer.
    unsafe {
        assert_eq!(
            createFileCredentialProvider(path.as_ptr().cast_mut(), &mut provider),
            STATUS_SUCCESS
        );
        assert_eq!(
            connect_with(&svc, "file-provider", provider),
            STATUS_SUCCESS
        );

        // An application may ask the provider itself, as the C SDK's interface allows.
        let get = (*provider).getCredentialsFn.expect("a getCredentialsFn");
        let mut creds = null_mut();
        assert_eq!(get(provider, &mut creds), STATUS_SUCCESS);
        let creds = &*creds;
        assert_eq!(creds.version, AWS_CREDENTIALS_CURRENT_VERSION);
        assert_eq!(
            CStr::from_ptr(creds.accessKeyId).to_str().unwrap(),
            kvs_service::EXAMPLE_ACCESS_KEY_ID
        );
        assert_eq!(
            creds.accessKeyIdLen as usize,
            kvs_service::EXAMPLE_ACCESS_KEY_ID.len()
        );
        assert_eq!(
            CStr::from_ptr(creds.secretKey).to_str().unwrap(),
            kvs_service::EXAMPLE_SECRET_ACCESS_KEY
        );
        assert_eq!(creds.sessionTokenLen, 0);
        assert!(
            creds.expiration != 0,
            "the file's keys carry the C SDK's enforced expiry or none"
        );

        assert_eq!(freeFileCredentialProvider(&mut provider), STATUS_SUCCESS);
        assert!(provider.is_null());
        assert_eq!(
            freeFileCredentialProvider(&mut provider),
            STATUS_SUCCESS,
            "a NULL provider frees nothing"
        );
    }

    // A malformed file fails at creation, naming the format.
    std::fs::write(&file, "not credentials").unwrap();
    let mut provider = null_mut();
    // SAFETY: as above.
    let status = unsafe { createFileCredentialProvider(path.as_ptr().cast_mut(), &mut provider) };
    assert_eq!(status, STATUS_FILE_CREDENTIAL_PROVIDER_INVALID_FILE_FORMAT);
    assert!(provider.is_null());
}

#[test]
fn an_iot_device_certificate_buys_credentials_that_connect_a_client() {
    let dir = scratch("iot-provider");
    let svc = Service::start(&dir, false);
    let device = kvs_service::issue_device_certificate(&dir, "c-api-camera", None).unwrap();
    let (endpoint, cert, key, ca, alias, thing) = (
        c(svc
            .handle
            .iot_endpoint()
            .expect("the service's IoT endpoint")),
        c(&device.cert_path.display().to_string()),
        c(&device.key_path.display().to_string()),
        c(&device.ca_path.display().to_string()),
        c(kvs_service::DEFAULT_ROLE_ALIAS),
        c("c-api-camera"),
    );
    let before = svc.handle.issued_keys().len();
    for create in [
        createLwsIotCredentialProvider,
        createCurlIotCredentialProvider,
    ] {
        let mut provider = null_mut();
        // SAFETY: valid strings and out pointer.
        unsafe {
            assert_eq!(
                create(
                    endpoint.as_ptr().cast_mut(),
                    cert.as_ptr().cast_mut(),
                    key.as_ptr().cast_mut(),
                    ca.as_ptr().cast_mut(),
                    alias.as_ptr().cast_mut(),
                    thing.as_ptr().cast_mut(),
                    &mut provider,
                ),
                STATUS_SUCCESS
            );
            assert_eq!(connect_with(&svc, "c-api-camera", provider), STATUS_SUCCESS);
            assert_eq!(
                freeStaticCredentialProvider(&mut provider),
                STATUS_INVALID_ARG,
                "not a static provider"
            );
            assert_eq!(freeIotCredentialProvider(&mut provider), STATUS_SUCCESS);
        }
    }
    assert!(
        svc.handle.issued_keys().len() >= before + 2,
        "each provider bought its keys from the IoT endpoint"
    );

    // A role alias the service does not know is refused when the client gets credentials.
    let unknown = c("no-such-alias");
    let mut provider = null_mut();
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            createLwsIotCredentialProvider(
                endpoint.as_ptr().cast_mut(),
                cert.as_ptr().cast_mut(),
                key.as_ptr().cast_mut(),
                ca.as_ptr().cast_mut(),
                unknown.as_ptr().cast_mut(),
                thing.as_ptr().cast_mut(),
                &mut provider,
            ),
            STATUS_SUCCESS,
            "nothing is fetched at creation"
        );
        assert_eq!(
            connect_with(&svc, "c-api-camera", provider),
            STATUS_SIGNALING_GET_TOKEN_CALL_FAILED
        );
        freeIotCredentialProvider(&mut provider);
    }
}
