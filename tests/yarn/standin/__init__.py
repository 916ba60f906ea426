"""A stand-in for skein's YARN side, written in Python, for tests without Hadoop: the Driver
(``driver.StandinDriver``), the application master (``appmaster.StandinAppMaster``) and a harness
(``cluster.StandinYarn``). Unmodified ``skein.Client`` and ``skein.ApplicationClient`` (also
``from_current()`` inside containers) talk to them over mutual TLS.

Known differences from skein 0.8.2 on YARN:

- one node (127.0.0.1) and no scheduler: every request is allocated ``allocation_delay`` seconds
  after it is made unless it exceeds the largest container (``max_memory_mb``/``max_vcores``);
  cluster capacity is unlimited; ``nodes``, ``racks``, ``relax_locality``, ``node_label``,
  ``queue`` and ``acls`` are recorded but change nothing; any queue name exists;
- no resource enforcement, no Kerberos, no delegation tokens; the master's ``SKEIN_RESOURCE_*``
  are the requested resources (YARN rounds them up to its minimum allocation);
- one application attempt: ``max_attempts`` is ignored; NEW and SUBMITTED are never observed
  (``submit`` answers with the application ACCEPTED);
- the application master is not a process: it lives in the test process, so the master script
  runs in the AM container's directory but there is no JVM to lose (``fail_application`` is the
  stand-in's way); its ``application.master.log`` holds the stand-in's notes;
- no web UI (the UI RPCs answer UNIMPLEMENTED), ``tracking_url`` is empty, the NodeManager
  ports are nominal, resource usage reports no memory/vcore-seconds;
- logs are readable as soon as the application has completed (no aggregation delay), and the
  container directories stay until the cluster's ``workdir`` is removed;
- when a container's main process ends, whatever is left in its process group is killed;
- resource sources must be local (``file://`` or a path); other schemes fail the submission.
"""

from .cluster import StandinYarn, group_alive

__all__ = ["StandinYarn", "group_alive"]
