"""boto3 (and the aws CLI, when installed) against openkvs's edge operations and secret subset:
CreateSecret, StartEdgeConfigurationUpdate, DescribeEdgeConfiguration until fragments exist,
ListEdgeAgentConfigurations, DeleteEdgeConfiguration, the errors botocore models.

Usage: python3 boto3_edge.py ENDPOINT RTSP_URL   (tests/edge_rtsp.rs runs it)
"""
import json
import shutil
import subprocess
import sys
import time

import boto3
import botocore

endpoint, rtsp = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="openkvs", aws_secret_access_key="openkvs-secret")
kv = boto3.client("kinesisvideo", **kw)
sm = boto3.client("secretsmanager", **kw)
am = boto3.client("kinesis-video-archived-media", **kw)
HUB = "arn:aws:iot:us-east-1:000000000000:thing/openkvs"


def deadline(seconds, what, check):
    end = time.time() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.time() > end:
            raise SystemExit(f"{what}: not within {seconds} s")
        time.sleep(0.2)


kv.create_stream(StreamName="boto-cam", DataRetentionInHours=2)
secret = sm.create_secret(Name="boto-cam-uri", SecretString=rtsp, Description="test camera")
assert secret["ARN"].endswith(":secret:boto-cam-uri"), secret
described = sm.describe_secret(SecretId=secret["ARN"])
assert "SecretString" not in described and described["Name"] == "boto-cam-uri", described
try:
    sm.create_secret(Name="boto-cam-uri", SecretString=rtsp)
    raise SystemExit("a duplicate secret was created")
except sm.exceptions.ResourceExistsException:
    pass

config = {
    "HubDeviceArn": HUB,
    "RecorderConfig": {"MediaSourceConfig": {"MediaUriSecretArn": secret["ARN"], "MediaUriType": "RTSP_URI"}},
    "UploaderConfig": {"ScheduleConfig": {"ScheduleExpression": "0 * * * * ?", "DurationInSeconds": 3600}},
    "DeletionConfig": {"EdgeRetentionInHours": 2, "LocalSizeConfig": {"MaxLocalMediaSizeInMB": 64,
                       "StrategyOnFullSize": "DENY_NEW_MEDIA"}, "DeleteAfterUpload": True},
}
started = kv.start_edge_configuration_update(StreamName="boto-cam", EdgeConfig=config)
assert started["SyncStatus"] == "SYNCING" and started["EdgeConfig"] == config, started
t0 = time.time()
deadline(10, "fragments within 10 s", lambda: am.list_fragments(StreamName="boto-cam")["Fragments"])
print(f"fragments after {time.time() - t0:.1f} s")
d = deadline(10, "IN_SYNC", lambda: (lambda d: d if d["SyncStatus"] == "IN_SYNC" and "EdgeAgentStatus" in d else None)(
    kv.describe_edge_configuration(StreamName="boto-cam")))
assert d["EdgeAgentStatus"]["LastRecorderStatus"]["RecorderStatus"] == "SUCCESS", d
listed = kv.list_edge_agent_configurations(HubDeviceArn=HUB, MaxResults=1)
assert [c["StreamName"] for c in listed["EdgeConfigs"]] == ["boto-cam"], listed
assert "NextToken" not in listed, listed
try:
    kv.describe_edge_configuration(StreamName="no-such-stream")
    raise SystemExit("describe of a missing stream succeeded")
except kv.exceptions.ResourceNotFoundException:
    pass

cli_deleted = False
if shutil.which("aws"):
    # The aws CLI drives the four operations too: update (same configuration, back to SYNCING),
    # describe until IN_SYNC, list, delete.
    env_args = ["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
    import os
    env = dict(os.environ, AWS_ACCESS_KEY_ID="openkvs", AWS_SECRET_ACCESS_KEY="openkvs-secret")

    def cli(*args):
        return subprocess.run(["aws", "kinesisvideo", *args, *env_args], capture_output=True, text=True, env=env)

    out = cli("describe-edge-configuration", "--stream-name", "boto-cam")
    if out.returncode == 0:
        assert json.loads(out.stdout)["StreamName"] == "boto-cam", out.stdout
        out = cli("start-edge-configuration-update", "--stream-name", "boto-cam", "--edge-config", json.dumps(config))
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["SyncStatus"] == "SYNCING", out.stdout
        deadline(15, "IN_SYNC after the CLI update", lambda: json.loads(
            cli("describe-edge-configuration", "--stream-name", "boto-cam").stdout)["SyncStatus"] == "IN_SYNC")
        out = cli("list-edge-agent-configurations", "--hub-device-arn", HUB)
        assert out.returncode == 0, out.stderr
        assert [c["StreamName"] for c in json.loads(out.stdout)["EdgeConfigs"]] == ["boto-cam"], out.stdout
        out = cli("delete-edge-configuration", "--stream-name", "boto-cam")
        assert out.returncode == 0, out.stderr
        cli_deleted = True
        print("aws cli drives the four edge operations")
    else:
        print(f"aws cli unusable here: {out.stderr.strip()[:200]}")

if not cli_deleted:
    kv.delete_edge_configuration(StreamName="boto-cam")


def gone():
    try:
        kv.describe_edge_configuration(StreamName="boto-cam")
        return False
    except kv.exceptions.StreamEdgeConfigurationNotFoundException:
        return True


deadline(15, "deletion", gone)
sm.delete_secret(SecretId="boto-cam-uri", ForceDeleteWithoutRecovery=True)
try:
    sm.get_secret_value(SecretId="boto-cam-uri")
    raise SystemExit("a deleted secret was read")
except sm.exceptions.ResourceNotFoundException:
    pass
print("boto3 edge flow ok")
