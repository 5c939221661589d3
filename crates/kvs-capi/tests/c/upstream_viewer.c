/*
 * A viewer written against the upstream KVS WebRTC C SDK's signaling API, as its samples
 * (samples/Common.c) use it: createSignalingClientSync with SignalingClientInfo, ChannelInfo
 * and a credential provider, fetch, connect, send an offer, wait for the answer, send a
 * candidate and wait for its echo, read the ICE servers and the metrics, free.
 *
 * Exits 0 when the exchange completed. Environment: KVS_CHANNEL, KVS_ENDPOINT, KVS_CA,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, KVS_CLIENT_ID (optional).
 */
#include <com/amazonaws/kinesis/video/webrtcclient/Include.h>

#include <stdlib.h>
#include <time.h>

typedef struct {
    volatile int answers;
    volatile int candidates;
    volatile int errors;
    volatile SIGNALING_CLIENT_STATE state;
    UINT64 checksum;
} Viewer, *PViewer;

static STATUS onMessage(UINT64 customData, PReceivedSignalingMessage pMessage)
{
    PViewer viewer = (PViewer) customData;
    switch (pMessage->signalingMessage.messageType) {
        case SIGNALING_MESSAGE_TYPE_ANSWER:
            if (strstr(pMessage->signalingMessage.payload, "answer") != NULL) {
                viewer->answers++;
            }
            break;
        case SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE:
            viewer->candidates++;
            break;
        default:
            break;
    }
    return STATUS_SUCCESS;
}

static STATUS onState(UINT64 customData, SIGNALING_CLIENT_STATE state)
{
    PCHAR name = NULL;
    ((PViewer) customData)->state = state;
    signalingClientGetStateString(state, &name);
    printf("state %s\n", name);
    return STATUS_SUCCESS;
}

static STATUS onError(UINT64 customData, STATUS status, PCHAR msg, UINT32 msgLen)
{
    ((PViewer) customData)->errors++;
    printf("error 0x%08x %.*s\n", status, msgLen, msg);
    return STATUS_SUCCESS;
}

static VOID sleepMs(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 20 s for *counter to reach at least `want`. */
static BOOL waitFor(volatile int* counter, int want)
{
    for (int i = 0; i < 400 && *counter < want; i++) {
        sleepMs(50);
    }
    return *counter >= want;
}

static STATUS sendMessage(SIGNALING_CLIENT_HANDLE handle, SIGNALING_MESSAGE_TYPE type, const CHAR* payload)
{
    SignalingMessage message;
    MEMSET(&message, 0, SIZEOF(message));
    message.version = SIGNALING_MESSAGE_CURRENT_VERSION;
    message.messageType = type;
    STRNCPY(message.payload, payload, MAX_SIGNALING_MESSAGE_LEN);
    message.payloadLen = (UINT32) STRLEN(message.payload);
    return signalingClientSendMessageSync(handle, &message);
}

int main(void)
{
    STATUS retStatus = STATUS_SUCCESS;
    Viewer viewer;
    SignalingClientInfo clientInfo;
    ChannelInfo channelInfo;
    SignalingClientCallbacks callbacks;
    SignalingClientMetrics metrics;
    PAwsCredentialProvider pCredentialProvider = NULL;
    SIGNALING_CLIENT_HANDLE handle = INVALID_SIGNALING_CLIENT_HANDLE_VALUE;
    UINT32 iceCount = 0;
    PIceConfigInfo pIceConfigInfo = NULL;
    PCHAR clientId = getenv("KVS_CLIENT_ID");

    MEMSET(&viewer, 0, SIZEOF(viewer));
    MEMSET(&clientInfo, 0, SIZEOF(clientInfo));
    MEMSET(&channelInfo, 0, SIZEOF(channelInfo));
    MEMSET(&callbacks, 0, SIZEOF(callbacks));
    MEMSET(&metrics, 0, SIZEOF(metrics));

    CHK(getenv("KVS_CHANNEL") != NULL && getenv("AWS_ACCESS_KEY_ID") != NULL && getenv("AWS_SECRET_ACCESS_KEY") != NULL, STATUS_INVALID_ARG);
    CHK_STATUS(createStaticCredentialProvider(getenv("AWS_ACCESS_KEY_ID"), 0, getenv("AWS_SECRET_ACCESS_KEY"), 0, NULL, 0, MAX_UINT64,
                                              &pCredentialProvider));

    clientInfo.version = SIGNALING_CLIENT_INFO_CURRENT_VERSION;
    clientInfo.loggingLevel = LOG_LEVEL_WARN;
    clientInfo.signalingClientCreationMaxRetryAttempts = CREATE_SIGNALING_CLIENT_RETRY_ATTEMPTS_SENTINEL_VALUE;
    STRNCPY(clientInfo.clientId, clientId != NULL ? clientId : "c-viewer", MAX_SIGNALING_CLIENT_ID_LEN);

    channelInfo.version = CHANNEL_INFO_CURRENT_VERSION;
    channelInfo.pChannelName = getenv("KVS_CHANNEL");
    channelInfo.pRegion = "us-west-2";
    channelInfo.pControlPlaneUrl = getenv("KVS_ENDPOINT");
    channelInfo.pCertPath = getenv("KVS_CA");
    channelInfo.channelType = SIGNALING_CHANNEL_TYPE_SINGLE_MASTER;
    channelInfo.channelRoleType = SIGNALING_CHANNEL_ROLE_TYPE_VIEWER;
    channelInfo.cachingPolicy = SIGNALING_API_CALL_CACHE_TYPE_NONE;
    channelInfo.retry = TRUE;
    channelInfo.reconnect = TRUE;

    callbacks.version = SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION;
    callbacks.customData = (UINT64) &viewer;
    callbacks.messageReceivedFn = onMessage;
    callbacks.stateChangeFn = onState;
    callbacks.errorReportFn = onError;

    CHK_STATUS(createSignalingClientSync(&clientInfo, &channelInfo, &callbacks, pCredentialProvider, &handle));
    CHK_STATUS(signalingClientFetchSync(handle));
    CHK_STATUS(signalingClientConnectSync(handle));

    CHK_STATUS(signalingClientGetIceConfigInfoCount(handle, &iceCount));
    printf("ice servers %u\n", iceCount);
    if (iceCount > 0) {
        CHK_STATUS(signalingClientGetIceConfigInfo(handle, 0, &pIceConfigInfo));
        printf("ice uri %s\n", pIceConfigInfo->uris[0]);
    }

    CHK_STATUS(sendMessage(handle, SIGNALING_MESSAGE_TYPE_OFFER, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\ns=c-viewer\\r\\n\"}"));
    CHK_ERR(waitFor(&viewer.answers, 1), STATUS_OPERATION_TIMED_OUT, "no answer to the offer");
    printf("answer received\n");
    CHK_STATUS(sendMessage(handle, SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE,
                           "{\"candidate\":\"candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}"));
    CHK_ERR(waitFor(&viewer.candidates, 1), STATUS_OPERATION_TIMED_OUT, "no candidate echoed");
    printf("candidate echoed\n");

    metrics.version = SIGNALING_CLIENT_METRICS_CURRENT_VERSION;
    CHK_STATUS(signalingClientGetMetrics(handle, &metrics));
    printf("metrics sent %u received %u connectClientTime %llu ms\n", metrics.signalingClientStats.numberOfMessagesSent,
           metrics.signalingClientStats.numberOfMessagesReceived, (unsigned long long) metrics.signalingClientStats.connectClientTime);
    CHK(metrics.signalingClientStats.numberOfMessagesSent >= 2 && metrics.signalingClientStats.numberOfMessagesReceived >= 2,
        STATUS_INTERNAL_ERROR);

CleanUp:
    if (STATUS_FAILED(retStatus)) {
        printf("failed 0x%08x\n", retStatus);
    }
    freeSignalingClient(&handle);
    freeStaticCredentialProvider(&pCredentialProvider);
    return STATUS_FAILED(retStatus) ? 1 : 0;
}
