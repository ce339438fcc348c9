"""provision_emulator: moto's server plus what moto lacks for the provision stack.

Each extension module (nfw, ec2, sagemaker, control) exposes ``install()``,
which patches moto's backend/response classes in moto's own style. The server
(``__main__``) calls every ``install()`` once before serving.
"""
