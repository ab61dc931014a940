"""Checks ONNX files as the ONNX project's own tools do, for test/engine/onnxExport.test.ts.
Run with Debian's /usr/bin/python3 (python3-onnx).

For each path: the full checker (operators, opset, types, and its own shape
inference) and strict shape inference, which fails on any node whose output shape
it cannot derive from its inputs. Prints one line per file with the inferred graph
output shape; exits non-zero on the first invalid file.
"""
import sys

import onnx


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


for path in sys.argv[1:]:
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    print(path, "ok", "opset", model.opset_import[0].version, "output", dims(inferred.graph.output[0]))
