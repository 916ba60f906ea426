"""What the driver and the evaluators share, besides Tang, Wake and the protos: the ``Activity``
base class and the objects services may ask for, the job's TLS credentials, the fast-path framing,
ordered delivery, the wire forms of errors and configurations, and the job settings.

May import: ``reef.errors``, ``reef.tang``, ``reef.wake``, ``reef.proto``. Imported by
``reef.driver`` and ``reef.evaluator``, which never import each other.
"""
