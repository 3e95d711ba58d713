"""boto3 drives JoinStorageSessionAsViewer (service kinesis-video-webrtc-storage) against openkvs.

usage: python3 boto3_join_as_viewer.py ENDPOINT STORAGE_CHANNEL_ARN PLAIN_CHANNEL_ARN

STORAGE_CHANNEL_ARN has an ENABLED media storage configuration, PLAIN_CHANNEL_ARN none. Every
check prints one line; the last line is "boto3 join-as-viewer ok" when all passed (exit 0).
"""

import sys

import boto3
import botocore.exceptions

endpoint, storage_arn, plain_arn = sys.argv[1:4]


def client(secret="openkvs-secret"):
    return boto3.client(
        "kinesis-video-webrtc-storage",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="openkvs",
        aws_secret_access_key=secret,
    )


def outcome(c, **params):
    try:
        c.join_storage_session_as_viewer(**params)
        return "OK"
    except botocore.exceptions.ParamValidationError:
        return "ParamValidationError"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


storage = client()
unknown_arn = storage_arn.rsplit("/", 2)[0] + "/no-such-channel/" + storage_arn.rsplit("/", 1)[1]
stream_arn = storage_arn.replace(":channel/", ":stream/")
checks = [
    ("a viewer joins", dict(channelArn=storage_arn, clientId="porch-viewer.1_a"), "OK"),
    ("the same viewer again (replaces its session)", dict(channelArn=storage_arn, clientId="porch-viewer.1_a"), "OK"),
    ("clientId outside [a-zA-Z0-9_.-]", dict(channelArn=storage_arn, clientId="bad id!"), "InvalidArgumentException"),
    ("clientId of 257 characters", dict(channelArn=storage_arn, clientId="v" * 257), "InvalidArgumentException"),
    ("empty clientId (model min 1)", dict(channelArn=storage_arn, clientId=""), "ParamValidationError"),
    ("missing clientId (required)", dict(channelArn=storage_arn), "ParamValidationError"),
    ("not an ARN", dict(channelArn="not-an-arn", clientId="v1"), "InvalidArgumentException"),
    ("a stream ARN", dict(channelArn=stream_arn, clientId="v1"), "InvalidArgumentException"),
    ("an unknown channel", dict(channelArn=unknown_arn, clientId="v1"), "ResourceNotFoundException"),
    ("a channel without media storage", dict(channelArn=plain_arn, clientId="v1"), "InvalidArgumentException"),
]
failed = 0
for what, params, expected in checks:
    got = outcome(storage, **params)
    print(f"{what}: {got}" + ("" if got == expected else f"  (expected {expected})"))
    failed += got != expected
# A bad signature is refused before the operation, as by AWS on every service.
got = outcome(client("wrong-secret"), channelArn=storage_arn, clientId="v1")
print(f"a wrong secret: {got}")
failed += got != "InvalidSignatureException"
if failed:
    sys.exit(f"{failed} check(s) failed")
print("boto3 join-as-viewer ok")
