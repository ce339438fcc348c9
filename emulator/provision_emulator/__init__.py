"""provision_emulator: moto's server plus what moto lacks for the provision stack.

Each extension module (ec2, nfw, efs, sagemaker, kms, iam, s3) exposes ``install(app)``,
which patches moto's backend/response classes in moto's own style and may return
a wrapped WSGI app. An extension that needs the control path does
``from . import control`` and calls ``control.on_reset(fn)`` /
``control.on_force_state(kind, fn)`` from its ``install``. The server
(``__main__``) calls every extension's ``install(app)`` once before serving, then
``control.install(app)`` around them all. ``profile`` is shared configuration,
not an extension.
"""
