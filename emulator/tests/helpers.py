"""Small helpers the emulator's test modules share."""
import time


def err(exc_info):
    """(AWS error code, HTTP status) of a pytest.raises(ClientError) result."""
    return exc_info.value.response["Error"]["Code"], exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def wait_for(fn, timeout=10, step=0.05):
    """Polls `fn` until it is truthy; False if `timeout` seconds pass first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(step)
    return False


def wait_value(fn, predicate, timeout=10.0):
    """Polls `fn` until `predicate(value)` holds and returns that value; fails the test on timeout."""
    deadline = time.time() + timeout
    while True:
        value = fn()
        if predicate(value):
            return value
        assert time.time() < deadline, f"timed out, last value: {value!r}"
        time.sleep(0.02)


#: SageMaker Distribution, the image JupyterLab apps run (the ARN ListApps shows for an app started on it,
#: aws-cloudformation/cloudformation-coverage-roadmap#2307). CreateApp of a JupyterLab app needs an image.
DISTRIBUTION_IMAGE = "arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu"
#: Settings (user, space or SpaceSettings) whose JupyterLab apps default to that image.
JUPYTERLAB_IMAGE = {"JupyterLabAppSettings": {"DefaultResourceSpec": {"SageMakerImageArn": DISTRIBUTION_IMAGE}}}
