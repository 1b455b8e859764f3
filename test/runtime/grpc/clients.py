"""Drives the runtime's gRPC server with real clients from PyPI
(tensorflow-serving-api, tritonclient[grpc]) and prints what they saw as one
JSON document for test/runtime/grpc-*.test.ts to assert on.

    python clients.py tfserving|triton|oversize|drain|reflection <host:port> [args...]

Every scenario runs against the "dtypes" fixture model (testing/graph-models.ts:
one pass-through output per datatype) served as model "dtypes", version "1".
"""

import json
import sys
import threading

import numpy as np

MODEL = "dtypes"

# Inputs of every datatype the model takes (name, numpy dtype, values), with
# values at the edges of what tfjs computes in (int32, float32, float16) and
# exact in it, so that every output equals its input bit for bit.
INPUTS = [
    ("f32", np.float32, [[1.5, -2.25], [3.4028235e38, -0.0]]),
    ("i32", np.int32, [[2147483647, -2147483648], [0, 7]]),
    ("u8", np.uint8, [[0, 255], [1, 128]]),
    ("i64", np.int64, [[2147483647, -2147483648], [-1, 42]]),
    ("i8", np.int8, [[-128, 127], [0, -1]]),
    ("f16", np.float16, [[0.5, -65504.0], [65504.0, 0.0009765625]]),
    ("f64", np.float64, [[0.25, -1099511627776.0], [2.5, 9.5367431640625e-07]]),
    ("flag", np.bool_, [[True, False], [False, True]]),
    ("text", np.object_, [b"hello", b"\x00\xff bytes"]),
]


def arrays():
    return {name: np.array(values, dtype=dtype) for name, dtype, values in INPUTS}


def plain(a):
    """A numpy array as JSON: dtype, shape and values (bytes as latin-1 text, floats exact as hex)."""
    flat = a.reshape(-1).tolist()
    if a.dtype == np.object_ or a.dtype.kind == "S":
        flat = [v.decode("latin-1") if isinstance(v, bytes) else v for v in flat]
    elif a.dtype.kind == "f":
        flat = [float(v).hex() for v in flat]
    elif a.dtype.kind == "b":
        flat = [bool(v) for v in flat]
    return {"dtype": str(a.dtype), "shape": list(a.shape), "values": flat}


def expected():
    return {name: plain(a) for name, a in arrays().items()}


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the point is to report any failure
        return describe(e)
    return {"code": "OK", "message": ""}


def describe(e):
    import grpc

    if isinstance(e, grpc.RpcError):
        return {"code": e.code().name, "message": e.details()}
    status = getattr(e, "status", None)
    if callable(status):
        code = status() or "UNKNOWN"
        return {"code": code.replace("StatusCode.", ""), "message": e.message()}
    return {"code": type(e).__name__, "message": str(e)}


def tfserving(addr):
    import grpc
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    channel = grpc.insecure_channel(addr)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    out = {"expected": expected()}

    def request(inputs, name=MODEL, version=None, label=None, signature=None):
        req = predict_pb2.PredictRequest()
        req.model_spec.name = name
        if version is not None:
            req.model_spec.version.value = version
        if label is not None:
            req.model_spec.version_label = label
        if signature is not None:
            req.model_spec.signature_name = signature
        for k, v in inputs.items():
            req.inputs[k].CopyFrom(v)
        return req

    def answer(resp):
        return {
            "outputs": {k: plain(tf.make_ndarray(v)) for k, v in resp.outputs.items()},
            "fields": {k: sorted(f.name for f, _ in v.ListFields()) for k, v in resp.outputs.items()},
            "model_spec": {
                "name": resp.model_spec.name,
                "version": resp.model_spec.version.value,
                "signature_name": resp.model_spec.signature_name,
            },
        }

    # tf.make_tensor_proto: tensor_content for numbers, string_val for bytes.
    content = {k: tf.make_tensor_proto(v) for k, v in arrays().items()}
    out["predict_tensor_content"] = answer(stub.Predict(request(content), timeout=30))

    # The typed fields, as clients build TensorProtos by hand.
    def typed(name, a):
        shape = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in a.shape]
        )
        dt = tf.dtypes.as_dtype(a.dtype if a.dtype != np.object_ else tf.string).as_datatype_enum
        p = tensor_pb2.TensorProto(dtype=dt, tensor_shape=shape)
        flat = a.reshape(-1).tolist()
        if a.dtype == np.float32:
            p.float_val.extend(flat)
        elif a.dtype == np.float64:
            p.double_val.extend(flat)
        elif a.dtype == np.float16:
            p.half_val.extend(a.reshape(-1).view(np.uint16).tolist())
        elif a.dtype == np.int64:
            p.int64_val.extend(flat)
        elif a.dtype == np.bool_:
            p.bool_val.extend(flat)
        elif a.dtype == np.object_:
            p.string_val.extend(flat)
        else:
            p.int_val.extend(flat)
        return p

    typed_inputs = {k: typed(k, v) for k, v in arrays().items()}
    out["predict_typed"] = answer(
        stub.Predict(request(typed_inputs, version=1, signature="serving_default"), timeout=30)
    )
    # A typed field with one value fills the shape (TensorFlow's reading of a short field).
    filled = dict(content)
    filled["f32"] = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2), tensor_shape_pb2.TensorShapeProto.Dim(size=2)]),
        float_val=[7.0],
    )
    out["predict_filled_f32"] = plain(tf.make_ndarray(stub.Predict(request(filled), timeout=30).outputs["f32_out"]))
    filtered = request(content)
    filtered.output_filter.append("i64_out")
    out["predict_output_filter"] = sorted(stub.Predict(filtered, timeout=30).outputs.keys())

    meta_req = get_model_metadata_pb2.GetModelMetadataRequest()
    meta_req.model_spec.name = MODEL
    meta_req.metadata_field.append("signature_def")
    meta = stub.GetModelMetadata(meta_req, timeout=30)
    sigs = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(sigs)
    out["metadata"] = {
        "model_spec": {"name": meta.model_spec.name, "version": meta.model_spec.version.value},
        "signatures": {
            name: {
                "method_name": s.method_name,
                "inputs": {k: [types_pb2.DataType.Name(v.dtype), [d.size for d in v.tensor_shape.dim], v.name] for k, v in s.inputs.items()},
                "outputs": {k: [types_pb2.DataType.Name(v.dtype), [d.size for d in v.tensor_shape.dim]] for k, v in s.outputs.items()},
            }
            for name, s in sigs.signature_def.items()
        },
    }
    bad_meta = get_model_metadata_pb2.GetModelMetadataRequest()
    bad_meta.model_spec.name = MODEL
    bad_meta.metadata_field.append("graph")

    status_req = get_model_status_pb2.GetModelStatusRequest()
    status_req.model_spec.name = MODEL
    status = models.GetModelStatus(status_req, timeout=30)
    out["status"] = [
        {
            "version": s.version,
            "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
            "error_code": s.status.error_code,
            "error_message": s.status.error_message,
        }
        for s in status.model_version_status
    ]
    unknown_status = get_model_status_pb2.GetModelStatusRequest()
    unknown_status.model_spec.name = "nope"

    wrong_dtype = dict(content)
    wrong_dtype["f32"] = tf.make_tensor_proto(np.array([[1.0, 2.0]], dtype=np.float64))
    wrong_shape = dict(content)
    wrong_shape["f32"] = tf.make_tensor_proto(np.array([1.0, 2.0], dtype=np.float32))
    short_content = dict(content)
    short_content["f32"] = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2), tensor_shape_pb2.TensorShapeProto.Dim(size=2)]),
        tensor_content=b"\x00" * 12,
    )
    too_wide = dict(content)
    too_wide["i64"] = tf.make_tensor_proto(np.array([[2**40, 0], [0, 0]], dtype=np.int64))
    missing = dict(content)
    del missing["flag"]
    unknown_input = dict(content)
    unknown_input["nope"] = tf.make_tensor_proto(np.array([1.0], dtype=np.float32))

    from tensorflow_serving.apis import classification_pb2

    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = MODEL
    bad_filter = request(content)
    bad_filter.output_filter.append("nope")
    out["errors"] = {
        "unknown_model": error_of(lambda: stub.Predict(request(content, name="nope"), timeout=30)),
        "unknown_version": error_of(lambda: stub.Predict(request(content, version=7), timeout=30)),
        "unknown_label": error_of(lambda: stub.Predict(request(content, label="canary"), timeout=30)),
        "unknown_signature": error_of(lambda: stub.Predict(request(content, signature="other"), timeout=30)),
        "wrong_dtype": error_of(lambda: stub.Predict(request(wrong_dtype), timeout=30)),
        "wrong_shape": error_of(lambda: stub.Predict(request(wrong_shape), timeout=30)),
        "short_content": error_of(lambda: stub.Predict(request(short_content), timeout=30)),
        "out_of_range": error_of(lambda: stub.Predict(request(too_wide), timeout=30)),
        "missing_input": error_of(lambda: stub.Predict(request(missing), timeout=30)),
        "unknown_input": error_of(lambda: stub.Predict(request(unknown_input), timeout=30)),
        "unknown_output": error_of(lambda: stub.Predict(bad_filter, timeout=30)),
        "classify": error_of(lambda: stub.Classify(classify, timeout=30)),
        "metadata_field": error_of(lambda: stub.GetModelMetadata(bad_meta, timeout=30)),
        "status_unknown_model": error_of(lambda: models.GetModelStatus(unknown_status, timeout=30)),
    }
    # Still serving after all of that.
    out["after_errors"] = answer(stub.Predict(request(content), timeout=30))["outputs"]["f32_out"]
    return out


def triton(addr):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import np_to_triton_dtype

    client = grpcclient.InferenceServerClient(url=addr)
    out = {"expected": expected()}

    def infer_inputs(arrs):
        inputs = []
        for name, a in arrs.items():
            i = grpcclient.InferInput(name, list(a.shape), np_to_triton_dtype(a.dtype))
            i.set_data_from_numpy(a)
            inputs.append(i)
        return inputs

    result = client.infer(MODEL, infer_inputs(arrays()), request_id="req-7", model_version="1")
    response = result.get_response()
    out["infer"] = {
        "outputs": {o.name: plain(result.as_numpy(o.name)) for o in response.outputs},
        "datatypes": {o.name: o.datatype for o in response.outputs},
        "id": response.id,
        "model_name": response.model_name,
        "model_version": response.model_version,
    }
    chosen = client.infer(
        MODEL,
        infer_inputs(arrays()),
        outputs=[grpcclient.InferRequestedOutput("f64_out"), grpcclient.InferRequestedOutput("f32_out", class_count=1)],
    )
    out["infer_outputs"] = {
        "names": [o.name for o in chosen.get_response().outputs],
        "f64_out": plain(chosen.as_numpy("f64_out")),
        "f32_out": plain(chosen.as_numpy("f32_out")),
    }
    out["health"] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(MODEL),
        "model_version_ready": client.is_model_ready(MODEL, "1"),
    }
    server = client.get_server_metadata(as_json=True)
    model = client.get_model_metadata(MODEL, as_json=True)
    out["server_metadata"] = server
    out["model_metadata"] = model

    wrong = arrays()
    wrong["f32"] = wrong["f32"].astype(np.float64)
    bad_shape = arrays()
    bad_shape["f32"] = bad_shape["f32"].reshape(-1)
    rows = arrays()
    rows["i32"] = rows["i32"][:1]
    wide = arrays()
    wide["i64"] = np.array([[2**40, 0], [0, 0]], dtype=np.int64)
    out["errors"] = {
        "wrong_datatype": error_of(lambda: client.infer(MODEL, infer_inputs(wrong))),
        "wrong_shape": error_of(lambda: client.infer(MODEL, infer_inputs(bad_shape))),
        "batch_mismatch": error_of(lambda: client.infer(MODEL, infer_inputs(rows))),
        "out_of_range": error_of(lambda: client.infer(MODEL, infer_inputs(wide))),
        "unknown_model": error_of(lambda: client.infer("nope", infer_inputs(arrays()))),
        "unknown_version": error_of(lambda: client.infer(MODEL, infer_inputs(arrays()), model_version="9")),
        "unknown_output": error_of(
            lambda: client.infer(MODEL, infer_inputs(arrays()), outputs=[grpcclient.InferRequestedOutput("nope")])
        ),
        "model_ready_unknown": error_of(lambda: client.is_model_ready("nope")),
        "metadata_unknown": error_of(lambda: client.get_model_metadata("nope")),
    }
    out["after_errors"] = client.is_server_ready() and plain(
        client.infer(MODEL, infer_inputs(arrays())).as_numpy("u8_out")
    )
    return out


def oversize(addr, size):
    """One infer whose message is `size` bytes of FP32 rows, then a normal one."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url=addr)
    rows = int(size) // 8
    arrs = arrays()
    big = {}
    for name, a in arrs.items():
        reps = (rows + a.shape[0] - 1) // a.shape[0]
        big[name] = np.concatenate([a] * reps)[:rows]
    inputs = []
    for name, a in big.items():
        from tritonclient.utils import np_to_triton_dtype

        i = grpcclient.InferInput(name, list(a.shape), np_to_triton_dtype(a.dtype))
        i.set_data_from_numpy(a)
        inputs.append(i)
    small = []
    for name, a in arrays().items():
        from tritonclient.utils import np_to_triton_dtype

        i = grpcclient.InferInput(name, list(a.shape), np_to_triton_dtype(a.dtype))
        i.set_data_from_numpy(a)
        small.append(i)
    return {
        "oversize": error_of(lambda: client.infer(MODEL, inputs)),
        "after": plain(client.infer(MODEL, small).as_numpy("i8_out")),
    }


def drain(addr, count):
    """Sends `count` infers at once, says "sent" on stderr, and reports each one's outcome."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import np_to_triton_dtype

    client = grpcclient.InferenceServerClient(url=addr)
    done = threading.Event()
    results = []
    lock = threading.Lock()

    def callback(result, error):
        with lock:
            if error is not None:
                results.append(describe(error))
            else:
                results.append({"code": "OK", "message": plain(result.as_numpy("i32_out"))["values"]})
            if len(results) == count:
                done.set()

    for _ in range(int(count)):
        inputs = []
        for name, a in arrays().items():
            i = grpcclient.InferInput(name, list(a.shape), np_to_triton_dtype(a.dtype))
            i.set_data_from_numpy(a)
            inputs.append(i)
        client.async_infer(MODEL, inputs, callback, client_timeout=60)
    sys.stderr.write("sent\n")
    sys.stderr.flush()
    done.wait(60)
    return {"sent": int(count), "results": results}


def reflection(addr):
    """What a reflection client (grpcurl's way) learns: the services, and each one's methods from its file and imports."""
    import grpc
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    db = ProtoReflectionDescriptorDatabase(grpc.insecure_channel(addr))
    services = sorted(db.get_services())
    pool = DescriptorPool(db)
    methods = {}
    for name in services:
        service = pool.FindServiceByName(name)
        methods[name] = {m.name: [m.input_type.full_name, m.output_type.full_name] for m in service.methods}
    predict = pool.FindMessageTypeByName("tensorflow.serving.PredictRequest")
    tensor = predict.fields_by_name["inputs"].message_type.fields_by_name["value"].message_type
    return {
        "services": services,
        "methods": methods,
        "tensor_fields": sorted(f.name for f in tensor.fields),
    }


def main():
    scenario, addr, *rest = sys.argv[1:]
    run = {
        "tfserving": tfserving,
        "triton": triton,
        "oversize": oversize,
        "drain": drain,
        "reflection": reflection,
    }[scenario]
    count = rest[0] if rest else None
    result = run(addr, int(count)) if count is not None else run(addr)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
