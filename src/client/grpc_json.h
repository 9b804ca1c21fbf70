/*
 * protobuf-c message -> cJSON, the way perf_analyzer turns Triton's gRPC
 * control-plane answers into the KServe JSON its parsers read (proto field
 * names, every primitive and repeated field printed, unset sub-messages and
 * unset oneof members omitted, enums by name, bytes as base64, maps as
 * objects). One deliberate difference from protobuf's JSON printer: 64-bit
 * integers are JSON numbers when they fit in a double exactly (|v| <= 2^53)
 * and strings otherwise, so the output matches what the HTTP API returns;
 * the project's parsers accept both forms (spec 02 §8). Also the small
 * protobuf-c helper the message encoders share (grpc_json_str).
 *
 * Internal to src/client/.
 */
#ifndef PA_CLIENT_GRPC_JSON_H
#define PA_CLIENT_GRPC_JSON_H

#include <cjson/cJSON.h>
#include <protobuf-c/protobuf-c.h>

/* A new cJSON object for m (never NULL; aborts on OOM like xmalloc). */
cJSON *grpc_json_from_message(const ProtobufCMessage *m);

/*
 * Completes a {"model_stats":[...]} tree converted from a
 * ModelStatisticsResponse: proto3 leaves zero counters and empty
 * sub-messages off the wire, while the KServe JSON the statistics parser
 * expects always has inference_stats with all eight {count, ns} members and
 * the batch_stats / memory_usage arrays.
 */
void grpc_json_complete_stats(cJSON *stats);

/*
 * s (NULL as "") for a protobuf-c string field, which is `char *` although
 * packing never writes through it: for messages built to be sent.
 */
static inline char *grpc_json_str(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s ? s : ""};
    return u.m;
}

#endif
