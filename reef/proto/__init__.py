"""The control plane's ``.proto`` files and their committed generated code.

May import: ``grpc``, ``protobuf``.
"""
