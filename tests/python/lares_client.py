"""An independent client for Lares, written against proto/ only.

It compiles the protobuf files with grpcio-tools, runs the whole username flow over gRPC
(register, log in, token, refresh, logout) and a guest sign-in by device id, checks the error reasons carried in
google.rpc.ErrorInfo, and opens every handshake token with the `cryptography` package:
URL-safe padded base64, then a 12-byte nonce, the AES-GCM ciphertext and a 16-byte tag, then a
gate.intra.v1.AuthToken. It prints one JSON object with what it saw.

Usage: lares_client.py --grpc HOST:PORT --proto-dir DIR --token-key BASE64
"""

import argparse
import base64
import importlib
import json
import os
import secrets
import sys
import tempfile

import grpc
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_tools import protoc

PROTOS = ["lares/account/v1/account.proto", "gate/intra/v1/auth_token.proto"]


def compile_protos(proto_dir, out_dir):
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}"] + [os.path.join(proto_dir, p) for p in PROTOS]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out_dir)
    account = importlib.import_module("lares.account.v1.account_pb2")
    account_grpc = importlib.import_module("lares.account.v1.account_pb2_grpc")
    token = importlib.import_module("gate.intra.v1.auth_token_pb2")
    return account, account_grpc, token


def open_token(text, key, token_pb2):
    """Opens a handshake token byte for byte, with no Lares code involved."""
    raw = base64.urlsafe_b64decode(text.encode())
    assert base64.urlsafe_b64encode(raw).decode() == text, "canonical padded URL-safe base64"
    assert len(raw) > 12 + 16, "nonce and tag present"
    nonce, sealed = raw[:12], raw[12:]
    plain = AESGCM(key).decrypt(nonce, sealed, None)
    message = token_pb2.AuthToken()
    message.ParseFromString(plain)
    assert message.SerializeToString() == plain, "no unknown fields, canonical encoding"
    assert len(message.rand) == 32 and int(message.rand, 16) >= 0, "128-bit hex nonce"
    assert message.status == token_pb2.ONLINE_STATUS_GATE
    assert not message.unencrypted
    return message


def reason_of(error):
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return None


def expect_error(call, code, reason):
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() == code, (error.code(), error.details())
        assert reason_of(error) == reason, (reason_of(error), reason)
        return
    raise AssertionError(f"expected {code} {reason}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--token-key", required=True)
    args = parser.parse_args()
    key = base64.b64decode(args.token_key)

    with tempfile.TemporaryDirectory() as out_dir:
        pb, pb_grpc, token_pb2 = compile_protos(args.proto_dir, out_dir)
        channel = grpc.insecure_channel(args.grpc)
        client = pb_grpc.AccountInterfaceStub(channel)
        username = "py_" + secrets.token_hex(4)
        password = "python horse battery"

        reg = client.UsernameRegister(pb.UsernameRegisterRequest(username=username, password=password))
        assert reg.register
        expect_error(lambda: client.UsernameRegister(
            pb.UsernameRegisterRequest(username=username.upper(), password=password)),
            grpc.StatusCode.ALREADY_EXISTS, "CONFLICT")
        expect_error(lambda: client.UsernameLogin(
            pb.UsernameLoginRequest(username=username, password="not the password")),
            grpc.StatusCode.UNAUTHENTICATED, "AUTH_FAILED")
        login = client.UsernameLogin(pb.UsernameLoginRequest(username=username, password=password))
        assert login.account_id == reg.account_id and not login.register
        token = client.Token(pb.TokenRequest(account_id=login.account_id, session=login.session))
        refreshed = client.Refresh(pb.RefreshRequest(account_id=login.account_id, session=token.session))
        expect_error(lambda: client.Refresh(
            pb.RefreshRequest(account_id=login.account_id, session=login.session)),
            grpc.StatusCode.UNAUTHENTICATED, "SESSION_ILLEGAL")
        client.Logout(pb.LogoutRequest(account_id=login.account_id, session=refreshed.session))
        expect_error(lambda: client.Refresh(
            pb.RefreshRequest(account_id=login.account_id, session=refreshed.session)),
            grpc.StatusCode.UNAUTHENTICATED, "SESSION_ILLEGAL")
        expect_error(lambda: client.UsernameLogin(
            pb.UsernameLoginRequest(username="x" * 40, password=password)),
            grpc.StatusCode.INVALID_ARGUMENT, "PARAM_INVALID")

        device = "py-device-" + secrets.token_hex(6)
        guest = client.DeviceLogin(pb.DeviceLoginRequest(device_id=device))
        again = client.DeviceLogin(pb.DeviceLoginRequest(device_id=device))
        assert guest.register and not again.register and guest.account_id == again.account_id
        open_token(guest.token, key, token_pb2)
        expect_error(lambda: client.DeviceLogin(pb.DeviceLoginRequest(device_id="short")),
                     grpc.StatusCode.INVALID_ARGUMENT, "PARAM_INVALID")

        opened = [open_token(t, key, token_pb2) for t in (reg.token, login.token, token.token)]
        assert len({t.rand for t in opened}) == 3, "every token has its own nonce"
        assert len({t.account_id for t in opened}) == 1
        print(json.dumps({
            "account_id": login.account_id,
            "token_account_id": opened[0].account_id,
            "zone": opened[0].location,
            "color": opened[0].color,
            "timeout": opened[2].timeout,
            "token_timeout": token.token_timeout,
        }))


if __name__ == "__main__":
    main()
