"""Entry point: python -m provision_emulator --port PORT [--profile FILE] [--scale S] [--throttle]
[--realistic [--seed N] [--error-rate R]]."""
import argparse
import gc
import logging
import signal
import sys

from werkzeug.serving import make_server

from . import (authz, control, ec2, efs, iam, kms, logs, nfw, pricing, profile, quotas, realistic, s3, s3_state,
               sagemaker, sagemaker_conditions, ssm)

#: Installed in this order, each by ``install(app)``. They reach the control path the same way:
#: ``from . import control`` and, inside ``install``, ``control.on_reset(fn)`` /
#: ``control.on_force_state(kind, fn)``. ``control.install(app)`` then wraps them all.
# quotas after ec2 and nfw: it wraps them; authz (IAM enforcement) last: a refused call reaches no other extension.
# sagemaker_conditions gives authz SageMaker's request-derived condition keys (it wraps nothing).
EXTENSIONS = [ec2, nfw, efs, sagemaker, kms, logs, iam, s3, s3_state, quotas, pricing, ssm, authz, sagemaker_conditions]


#: moto services the stack uses, with the backend region to build (global services: "aws").
SERVICES = [("sts", "us-east-1"), ("ec2", "us-east-1"), ("kms", "us-east-1"), ("s3", "aws"), ("iam", "aws"),
            ("networkfirewall", "us-east-1"), ("sagemaker", "us-east-1"), ("efs", "us-east-1"),
            ("logs", "us-east-1"), ("ssm", "us-east-1")]


def warm_up(dispatcher, account="123456789012"):
    """Builds each service's app and default-region backend before serving.

    moto does this lazily on the first request, which then takes up to a
    second: emulator time that real AWS does not have, and that would make
    a request sent just before a client was killed land late — after the
    client's successor looked for its result.
    """
    from moto.backends import get_backend

    for service, region in SERVICES:
        with dispatcher.lock:
            if service not in dispatcher.app_instances:
                dispatcher.app_instances[service] = dispatcher.create_app(service)
        backends = get_backend(service)[account]
        for name in (region, "aws", "global"):
            try:
                backends[name]
                break
            except KeyError:
                continue
    # What warm-up made stays: the garbage collector need not walk it again during the first
    # burst of requests (each full collection then holds every request thread).
    gc.collect()
    gc.freeze()


def build_app():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    dispatcher = app = DomainDispatcherApplication(create_backend_app)
    for ext in EXTENSIONS:
        app = ext.install(app) or app  # an extension may wrap the WSGI app (sagemaker: refresh per request)
    app = control.install(app)  # outermost: /_emulator/, faults and the call log see every request
    warm_up(dispatcher)  # after the extensions patched moto's classes
    return app


def main(argv=None):
    ap = argparse.ArgumentParser(prog="emulator/run", description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--profile", default=None, help="latency profile JSON (default: the repo's copy)")
    ap.add_argument("--scale", type=float, default=0.0, help="multiplies every delay; 0 = instant")
    ap.add_argument("--throttle", action="store_true", help="enable EC2 request-rate token buckets")
    ap.add_argument("--realistic", action="store_true",
                    help="AWS's timing-dependent behaviour: eventual consistency, IAM propagation, throttling "
                         "(implies --throttle) and rare transient 5xx, seeded (see realistic.py)")
    ap.add_argument("--seed", type=int, default=None, help="seed of --realistic's draws (default: random, printed)")
    ap.add_argument("--error-rate", type=float, default=None,
                    help=f"share of calls --realistic fails with a transient 5xx (default {realistic.ERROR_RATE})")
    ap.add_argument("--verbose", action="store_true", help="log every request (werkzeug's access log)")
    a = ap.parse_args(argv)
    if a.scale < 0:
        ap.error("--scale must be >= 0")
    if (a.seed is not None or a.error_rate is not None) and not a.realistic:
        ap.error("--seed and --error-rate need --realistic")
    if a.error_rate is not None and not 0 <= a.error_rate <= 1:
        ap.error("--error-rate must be within 0..1")
    throttle = a.throttle or a.realistic
    profile.configure(a.profile, a.scale, throttle)
    seed = realistic.configure(a.realistic, a.seed, a.error_rate)
    if not a.verbose:  # errors (tracebacks) still reach stderr
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = build_app()
    from moto.moto_server.threaded_moto_server import MotoRequestHandler

    server = make_server(a.host, a.port, app, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mode = f"realistic seed {seed}" if a.realistic else "realistic off"
    print(f"provision emulator ready on http://{a.host}:{a.port} (scale {a.scale}, "
          f"throttle {'on' if throttle else 'off'}, {mode})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
