/*
 * TF Serving message codec (spec 06 §3, protocols/03-tfserving.md): the
 * PredictRequest perf_analyzer sends, the GetModelMetadataRequest, and the
 * conversion of a GetModelMetadataResponse into the JSON that model.c's
 * TF Serving parser reads. No sockets here, so the unit tests exercise it
 * directly; tfserving.c does the gRPC side.
 *
 * Internal to src/client/ (tfserving.c and its tests).
 */
#ifndef PA_CLIENT_TFS_CODEC_H
#define PA_CLIENT_TFS_CODEC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "pa/client.h"
#include "pa/status.h"

#define TFS_SIGNATURE_DEF_MAP_URL "type.googleapis.com/tensorflow.serving.SignatureDefMap"

/* tensorflow.DataType value for a KServe datatype ("FP32" -> DT_FLOAT = 1); -1 if none. */
int tfs_dtype_from_datatype(const char *datatype);

/*
 * Serialises the PredictRequest of desc: model_spec (name; -x as the numeric
 * `version` when it is a decimal number, else as `version_label`;
 * signature_name), and one TensorProto per input with dtype, shape (the
 * request shape as given, so the batch dim is there only when the caller
 * put it there) and the values in the dtype's typed field (INT64 in
 * int64_val: the r23.10 bool_val bug is fixed; INT8/INT16 sign-extended,
 * UINT8/UINT16/FP16 zero-extended; BYTES without length prefixes).
 * *out is malloc'ed. Errors: "failed to retrieve the TF datatype for <name>",
 * "BF16 datatype not currently supported for populating input data.",
 * "Request has byte size <n> which exceed gRPC's byte size limit 2147483647.",
 * malformed BYTES data, shared-memory inputs.
 */
PA_MUST_CHECK int tfs_encode_predict(const struct pa_infer_desc *desc, const char *signature,
                                     unsigned char **out, size_t *len, struct pa_err *err);

/* Serialises GetModelMetadataRequest{model_spec, metadata_field: ["signature_def"]}. */
void tfs_encode_metadata_request(const char *name, const char *version, unsigned char **out,
                                 size_t *len);

/*
 * Converts a serialized GetModelMetadataResponse to JSON the way the
 * original's protobuf JSON printer does (proto field names, primitives
 * printed, enums by name), with the Any in metadata["signature_def"]
 * expanded: {"model_spec": {...}, "metadata": {"signature_def": {"@type":
 * "<url>", "signature_def": {"<sig>": {"inputs": {...}, ...}}}}}. 64-bit
 * integers follow grpc_json.c (numbers when exact). An Any of another type
 * cannot be expanded, so it fails as it does in the original.
 */
PA_MUST_CHECK int tfs_metadata_to_json(const unsigned char *p, size_t len, cJSON **out,
                                       struct pa_err *err);

#endif
