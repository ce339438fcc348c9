"""AWS's public parameters of regions and services (ssm.py): moto's copy answers whether a region
offers a service; force-state ``region_service`` takes one out (and puts it back); IAM enforcement
scopes them by their account-less ARN."""
import pytest
from botocore.exceptions import ClientError

from helpers import err
from test_authz import allow, user_with

NFW = "/aws/service/global-infrastructure/regions/{}/services/network-firewall"


def test_regions_offer_network_firewall_and_sagemaker_from_any_region(emulator):
    for query in ("us-east-1", "sa-east-1"):
        ssm = emulator.client("ssm", region=query)
        for region in ("sa-east-1", "ca-central-1", "ap-southeast-7"):
            for svc in ("network-firewall", "sagemaker"):
                name = f"/aws/service/global-infrastructure/regions/{region}/services/{svc}"
                assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == svc
    with pytest.raises(ClientError) as e:
        emulator.client("ssm").get_parameter(Name=NFW.format("xx-nowhere-1"))
    assert err(e) == ("ParameterNotFound", 400)


def test_a_service_taken_out_of_a_region_and_put_back(make_emulator):
    emu = make_emulator()
    ssm = emu.client("ssm")
    by_path = "/aws/service/global-infrastructure/services/network-firewall/regions"

    def regions():
        names, token = [], None
        while True:
            out = ssm.get_parameters_by_path(Path=by_path, **({"NextToken": token} if token else {}))
            names += [p["Name"].rsplit("/", 1)[-1] for p in out["Parameters"]]
            token = out.get("NextToken")
            if not token:
                return names

    assert "eu-south-2" in regions()
    answer = emu.post("force-state", {"kind": "region_service", "region": "eu-south-2",
                                      "service": "network-firewall", "offered": False})
    assert answer == {"kind": "region_service", "region": "eu-south-2", "service": "network-firewall",
                      "offered": False}
    for query in ("us-east-1", "eu-west-1"):
        with pytest.raises(ClientError) as e:
            emu.client("ssm", region=query).get_parameter(Name=NFW.format("eu-south-2"))
        assert err(e)[0] == "ParameterNotFound"
    assert "eu-south-2" not in regions()
    out = ssm.get_parameters(Names=[NFW.format("eu-south-2"), NFW.format("eu-west-1")])
    assert [p["Name"] for p in out["Parameters"]] == [NFW.format("eu-west-1")]
    assert out["InvalidParameters"] == [NFW.format("eu-south-2")]
    # The region's other services are untouched.
    sm = "/aws/service/global-infrastructure/regions/eu-south-2/services/sagemaker"
    assert ssm.get_parameter(Name=sm)["Parameter"]["Value"] == "sagemaker"
    emu.post("force-state", {"kind": "region_service", "region": "eu-south-2", "service": "network-firewall",
                             "offered": True})
    assert ssm.get_parameter(Name=NFW.format("eu-south-2"))["Parameter"]["Value"] == "network-firewall"
    emu.post("force-state", {"kind": "region_service", "region": "eu-south-2", "service": "network-firewall"})
    emu.post("reset", {})
    assert ssm.get_parameter(Name=NFW.format("eu-south-2"))["Parameter"]["Value"] == "network-firewall"
    status, answer = emu.control("POST", "force-state", {"kind": "region_service", "region": "", "service": "x"})
    assert status == 400 and "region" in answer["error"], answer


def test_public_parameters_are_authorized_on_their_account_less_arn(emulator):
    _, keys = user_with(emulator, [allow(["ssm:GetParameter"],
                                         "arn:aws:ssm:*:*:parameter/aws/service/global-infrastructure/*")])
    ssm = emulator.client("ssm", **keys)
    assert ssm.get_parameter(Name=NFW.format("sa-east-1"))["Parameter"]["Value"] == "network-firewall"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    assert err(e)[0] == "AccessDeniedException"
    assert "ssm:GetParameter on resource: arn:aws:ssm:us-east-1::parameter/aws/service/ami-amazon" in \
        e.value.response["Error"]["Message"]
