/*
 * The ESP-IDF seed's signaling example (WebRTC Signaling, "Signaling API Usage" and
 * "Callback Implementation"), completed only where the seed elides: declarations, zeroing
 * the structures, a credential provider, the local service's endpoint and CA, and freeing.
 * The lines between the "seed:" markers are the seed's, unchanged.
 *
 * A master: answers each offer with an SDP answer and echoes each ICE candidate back to its
 * sender. Runs until stdin closes, then frees everything and prints its counts.
 *
 * Environment: KVS_CHANNEL, KVS_ENDPOINT, KVS_CA, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
 */
#define KVS_SEED_SIGNALING_API
#include <com/amazonaws/kinesis/video/webrtcclient/Include.h>

#include <stdlib.h>

#define CLIENT_ID "seed-master"

typedef struct {
    SIGNALING_CLIENT_HANDLE handle;
    volatile int answers;
    volatile int echoes;
    volatile int errors;
} SampleConfiguration, *PSampleConfiguration;

static VOID reply(PSampleConfiguration cfg, PReceivedSignalingMessage in, SIGNALING_MESSAGE_TYPE type, const CHAR* payload)
{
    SignalingMessage out;
    MEMSET(&out, 0, SIZEOF(out));
    out.version = SIGNALING_MESSAGE_CURRENT_VERSION;
    out.messageType = type;
    SNPRINTF(out.peerClientId, SIZEOF(out.peerClientId), "%s", in->peerClientId);
    SNPRINTF(out.payload, SIZEOF(out.payload), "%s", payload);
    out.payloadLen = (UINT32) STRLEN(out.payload);
    STATUS status = signalingClientSendMessageSync(cfg->handle, &out);
    if (STATUS_FAILED(status)) {
        DLOGE("send failed: 0x%08x", status);
        cfg->errors++;
    }
}

static VOID handleOffer(PSampleConfiguration cfg, PReceivedSignalingMessage msg)
{
    reply(cfg, msg, SIGNALING_MESSAGE_TYPE_ANSWER, "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\ns=seed-master\\r\\n\"}");
    cfg->answers++;
    printf("answered %s\n", msg->peerClientId);
    fflush(stdout);
}

static VOID handleAnswer(PSampleConfiguration cfg, PReceivedSignalingMessage msg)
{
    UNUSED_PARAM(cfg);
    UNUSED_PARAM(msg);
}

static VOID handleIceCandidate(PSampleConfiguration cfg, PReceivedSignalingMessage msg)
{
    reply(cfg, msg, SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE, msg->payload);
    cfg->echoes++;
}

/* seed: callbacks */
    // Message received callback
    VOID on_msg_received(UINT64 customData, PReceivedSignalingMessage pReceivedSignalingMessage)
    {
        PSampleConfiguration pSampleConfiguration = (PSampleConfiguration) customData;

        switch (pReceivedSignalingMessage->messageType) {
            case SIGNALING_MESSAGE_TYPE_OFFER:
                // Handle offer
                handleOffer(pSampleConfiguration, pReceivedSignalingMessage);
                break;
            case SIGNALING_MESSAGE_TYPE_ANSWER:
                // Handle answer
                handleAnswer(pSampleConfiguration, pReceivedSignalingMessage);
                break;
            case SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE:
                // Handle ICE candidate
                handleIceCandidate(pSampleConfiguration, pReceivedSignalingMessage);
                break;
            default:
                // Unhandled message type
                break;
        }
    }

    // State change callback
    VOID onSignalingClientStateChange(UINT64 customData, SIGNALING_CLIENT_STATE state)
    {
        PSampleConfiguration pSampleConfiguration = (PSampleConfiguration) customData;

        switch (state) {
            case SIGNALING_CLIENT_STATE_READY:
                // Signaling client is ready
                break;
            case SIGNALING_CLIENT_STATE_CONNECTED:
                // Signaling client is connected
                break;
            case SIGNALING_CLIENT_STATE_DISCONNECTED:
                // Signaling client is disconnected
                break;
            default:
                // Unhandled state
                break;
        }
        /* completion: report the state to the test */
        UNUSED_PARAM(pSampleConfiguration);
        printf("state %u\n", state);
        fflush(stdout);
    }

    // Error callback
    VOID onSignalingClientError(UINT64 customData, STATUS status, PCHAR msg, UINT32 msgLen)
    {
        PSampleConfiguration pSampleConfiguration = (PSampleConfiguration) customData;

        // Handle error
        printf("Signaling client error: %.*s\n", msgLen, msg);
        /* completion */
        UNUSED_PARAM(status);
        pSampleConfiguration->errors++;
    }
/* seed: end */

int main(void)
{
    SampleConfiguration sample;
    MEMSET(&sample, 0, SIZEOF(sample));
    PSampleConfiguration pSampleConfiguration = &sample;
    PCHAR pChannelName = getenv("KVS_CHANNEL");
    PCHAR pChannelArn = NULL;
    PCHAR pRegion = "us-west-2";
    PCHAR accessKey = getenv("AWS_ACCESS_KEY_ID");
    PCHAR secretKey = getenv("AWS_SECRET_ACCESS_KEY");
    PAwsCredentialProvider pCredentialProvider = NULL;
    SIGNALING_CLIENT_HANDLE signalingHandle = INVALID_SIGNALING_CLIENT_HANDLE_VALUE;
    if (pChannelName == NULL || accessKey == NULL || secretKey == NULL) {
        fprintf(stderr, "set KVS_CHANNEL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
        return 2;
    }
    STATUS status = createStaticCredentialProvider(accessKey, 0, secretKey, 0, NULL, 0, MAX_UINT64, &pCredentialProvider);
    if (STATUS_FAILED(status)) {
        fprintf(stderr, "createStaticCredentialProvider: 0x%08x\n", status);
        return 1;
    }

/* seed: usage */
    // Initialize signaling client
    SignalingClientInfo clientInfo;
    SignalingClientCallbacks callbacks;
    SignalingClientMetrics metrics;
    SignalingClientConfig config;
/* seed: pause (completion: zero the structures) */
    MEMSET(&clientInfo, 0, SIZEOF(clientInfo));
    MEMSET(&callbacks, 0, SIZEOF(callbacks));
    MEMSET(&metrics, 0, SIZEOF(metrics));
    MEMSET(&config, 0, SIZEOF(config));
/* seed: resume */

    // Set client info
    clientInfo.version = SIGNALING_CLIENT_INFO_CURRENT_VERSION;
    clientInfo.loggingLevel = LOG_LEVEL_DEBUG;
    STRCPY(clientInfo.clientId, CLIENT_ID);

    // Set callbacks
    callbacks.version = SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION;
    callbacks.customData = (UINT64) pSampleConfiguration;
    callbacks.messageReceivedFn = on_msg_received;
    callbacks.errorReportFn = onSignalingClientError;
    callbacks.stateChangeFn = onSignalingClientStateChange;

    // Set configuration
    config.version = SIGNALING_CLIENT_CONFIG_CURRENT_VERSION;
    config.channelInfo.version = SIGNALING_CHANNEL_INFO_CURRENT_VERSION;
    config.channelInfo.pChannelName = pChannelName;
    config.channelInfo.pChannelArn = pChannelArn;
    config.channelInfo.pRegion = pRegion;
    config.channelInfo.channelType = SIGNALING_CHANNEL_TYPE_SINGLE_MASTER;
    config.channelInfo.channelRoleType = SIGNALING_CHANNEL_ROLE_TYPE_MASTER;
    config.clientInfo = &clientInfo;
    config.pCredentialProvider = pCredentialProvider;
/* seed: pause (completion: the local service's endpoint and CA) */
    config.channelInfo.pControlPlaneUrl = getenv("KVS_ENDPOINT");
    config.channelInfo.pCertPath = getenv("KVS_CA");
/* seed: resume */

    // Create signaling client
    createSignalingClientSync(&config, &callbacks, &metrics, &signalingHandle);

/* seed: pause (completion: the handle is needed by the callbacks) */
    pSampleConfiguration->handle = signalingHandle;
/* seed: resume */
    // Connect to signaling channel
    connectSignalingChannel(signalingHandle);
/* seed: end */

    SIGNALING_CLIENT_STATE state = SIGNALING_CLIENT_STATE_UNKNOWN;
    if (!IS_VALID_SIGNALING_CLIENT_HANDLE(signalingHandle) || STATUS_FAILED(signalingClientGetCurrentState(signalingHandle, &state)) ||
        state != SIGNALING_CLIENT_STATE_CONNECTED) {
        fprintf(stderr, "the master did not connect\n");
        freeSignalingClient(&signalingHandle);
        freeStaticCredentialProvider(&pCredentialProvider);
        return 1;
    }
    printf("connected; metrics version %u, getTokenCallTime %llu ms\n", metrics.version,
           (unsigned long long) metrics.signalingClientStats.getTokenCallTime);
    fflush(stdout);

    /* Serve until the test closes stdin. */
    CHAR line[64];
    while (fgets(line, sizeof(line), stdin) != NULL) {
    }

    SignalingClientMetrics after;
    MEMSET(&after, 0, SIZEOF(after));
    after.version = SIGNALING_CLIENT_METRICS_CURRENT_VERSION;
    status = signalingClientGetMetrics(signalingHandle, &after);
    printf("metrics 0x%08x received %u sent %u\n", status, after.signalingClientStats.numberOfMessagesReceived,
           after.signalingClientStats.numberOfMessagesSent);
    freeSignalingClient(&signalingHandle);
    freeStaticCredentialProvider(&pCredentialProvider);
    printf("answered %d echoed %d errors %d handle %llu\n", sample.answers, sample.echoes, sample.errors,
           (unsigned long long) signalingHandle);
    return 0;
}
