"""API semantics on top of the store: what a create, update, patch or delete means.

Everything a real API server does to an object on write, for the kinds we serve:
server-set metadata (uid, creationTimestamp, resourceVersion, generation), optimistic
concurrency (409 on a stale resourceVersion), the status subresource split, custom
resource pruning/defaulting/validation against the CRD, CRDs registering their kinds,
namespaces, finalizers and ownerReference garbage collection (background, foreground,
orphan). The HTTP layer (`server.py`) and test helpers both go through this class, so
seeding a test and serving kubectl follow the same rules.
"""

from __future__ import annotations

import builtins
import datetime
import random
import uuid
from collections.abc import Callable
from typing import Any

from modelops.emulator import errors, metadata, patches, schema, services
from modelops.emulator.errors import ApiError
from modelops.emulator.resources import CRD_GROUP, CRD_PLURAL, Registry, ResourceType
from modelops.emulator.store import Event, ObjectKey, Store, clone

# Metadata only the server sets; client values are ignored (kept from the stored object).
_SERVER_METADATA = ("uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "name", "namespace", "managedFields")
_FOREGROUND = "foregroundDeletion"
_ORPHAN = "orphan"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: dict[str, Any], rt: ResourceType) -> Any:
    """What a change to bumps `generation`: spec for built-ins, all but metadata/status for CRs."""
    if rt.custom:
        return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return obj.get("spec")


class Cluster:
    def __init__(self, *, history_size: int = 20_000, service_network: str = services.SERVICE_NETWORK) -> None:
        self.store = Store(history_size=history_size)
        self.registry = Registry()
        self.service_network = service_network
        self._allocator: services.Allocator | None = None
        self.store.observers.append(self._track_cluster_ips)
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None
        for name in DEFAULT_NAMESPACES:
            self.create(namespaces, None, {"metadata": {"name": name}})

    # ---- ClusterIPs ---------------------------------------------------------------------

    def _cluster_ips(self) -> services.Allocator:
        """The allocator of `service_network` (built from the stored Services when the network changed)."""
        if self._allocator is None or self._allocator.network != self.service_network:
            allocator = services.Allocator(self.service_network)
            for _, obj in self.store.items(("", "services")):
                ip = services.cluster_ip(obj)
                if ip is not None:
                    allocator.take(ip)
            self._allocator = allocator
        return self._allocator

    def _track_cluster_ips(self, key: ObjectKey, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        if key[:2] != ("", "services") or self._allocator is None:
            return
        old_ip, new_ip = services.cluster_ip(before), services.cluster_ip(after)
        if old_ip != new_ip:
            if old_ip is not None:
                self._allocator.release(old_ip)
            if new_ip is not None:
                self._allocator.take(new_ip)

    # ---- addressing -------------------------------------------------------------------

    def resource(self, api_version: str, name: str) -> ResourceType:
        """Find a served type by apiVersion and kind, plural, singular or short name."""
        group, _, version = api_version.rpartition("/")
        for rt in self.registry.in_group_version(group, version):
            if name in (rt.kind, rt.plural, rt.singular_name) or name in rt.short_names:
                return rt
        raise ApiError(404, "NotFound", f'the server could not find the requested resource "{name}" in {api_version}')

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> ObjectKey:
        return (rt.group, rt.plural, namespace or "" if rt.namespaced else "", name)

    def _served(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as this version of the type shows it (one storage for all CRD versions)."""
        result = {"apiVersion": rt.api_version, "kind": rt.kind}
        result.update((k, v) for k, v in clone(obj).items() if k not in ("apiVersion", "kind"))
        return result

    # ---- reading ------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.store.lock:
            obj = self.store.peek(self._key(rt, namespace, name))
            if obj is None:
                raise errors.not_found(rt.plural, rt.group, name)
            return self._served(rt, obj)

    def list(self, rt: ResourceType, namespace: str | None,
             predicate: Callable[[dict[str, Any]], bool] = lambda o: True,
             labels: builtins.list[tuple[str, str]] | None = None,
             ) -> tuple[builtins.list[dict[str, Any]], int]:
        """`labels`: (key, value) pairs the predicate requires too, answered from the label index."""
        with self.store.lock:
            found = (self.store.labelled(rt.storage_key, labels, namespace or None) if labels
                     else self.store.items(rt.storage_key, namespace or None))
            items = [self._served(rt, obj) for _, obj in found if predicate(obj)]
            return items, self.store.resource_version

    def initial_events(self, rt: ResourceType, namespace: str | None) -> builtins.list[Event]:
        """Synthetic ADDED events for what exists now (a watch without a resourceVersion)."""
        return [Event(int(obj["metadata"]["resourceVersion"]), rt.storage_key, "ADDED", clone(obj))
                for _, obj in self.store.items(rt.storage_key, namespace or None)]

    # ---- creating -----------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False,
               field_validation: str = "", keep_status: bool = False) -> dict[str, Any]:
        self._check_body(rt, body)
        obj = clone(body)  # JSON: a round trip is faster than deepcopy
        meta = obj.setdefault("metadata", {}) or {}
        obj["metadata"] = meta
        self._check_kind(rt, obj)
        typed = metadata.type_causes(meta)
        if typed:  # before anything below uses the name, namespace or generateName
            raise errors.invalid(rt.kind, rt.group, str(meta.get("name") or ""), typed)
        with self.store.lock:
            namespace = self._namespace_for(rt, namespace, meta)
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise errors.invalid(rt.kind, rt.group, "", [("FieldValueRequired", "metadata.name",
                                         "Required value: name or generateName is required")])
                meta["name"] = self._generate_name(rt, namespace, meta["generateName"])
            name = meta["name"]
            key = self._key(rt, namespace, name)
            if self.store.peek(key) is not None:
                raise errors.already_exists(rt.plural, rt.group, name)
            if rt.has_status_subresource and not keep_status:
                obj.pop("status", None)
            for field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "managedFields"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
            if rt.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            obj = self._admit(rt, obj, None, field_validation)
            if dry_run:
                return self._served(rt, obj)
            meta = obj["metadata"]
            meta["resourceVersion"] = str(self.store.next_resource_version())
            self.store.put(key, obj, "ADDED")
            return self._served(rt, obj)

    @staticmethod
    def _check_body(rt: ResourceType, body: Any) -> None:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of a {rt.kind} must be a JSON or YAML object")
        if not isinstance(body.get("metadata") or {}, dict):
            raise errors.bad_request(f"the metadata of a {rt.kind} must be an object, not {body['metadata']!r}")

    def _check_kind(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind not in (None, rt.kind) or api_version not in (None, rt.api_version):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version}), or the kind {kind} is not {rt.kind}")

    def _namespace_for(self, rt: ResourceType, namespace: str | None, meta: dict[str, Any]) -> str | None:
        if not rt.namespaced:
            return None
        in_body = meta.get("namespace")
        if namespace and in_body and in_body != namespace:
            raise errors.bad_request(
                f"the namespace of the provided object ({in_body}) does not match the namespace sent on the "
                f"request ({namespace})")
        namespace = namespace or in_body or "default"
        ns = self.store.peek(("", "namespaces", "", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden",
                           f"{rt.plural} is forbidden: unable to create new content in namespace {namespace} "
                           "because it is being terminated")
        return namespace

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        for _ in range(100):
            name = prefix + "".join(random.choice(_NAME_CHARS) for _ in range(5))
            if self.store.peek(self._key(rt, namespace, name)) is None:
                return name
        raise ApiError(500, "InternalError", f"could not generate a free name from {prefix!r}")

    def _admit(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
               field_validation: str) -> dict[str, Any]:
        """Validation and server-side defaults: what admission does before storing."""
        meta_causes = metadata.causes(rt.storage_key, obj.get("metadata") or {})
        if meta_causes:
            raise errors.invalid(rt.kind, rt.group, str(obj["metadata"].get("name", "")), meta_causes)
        if rt.custom and rt.schema is not None:
            obj, findings = schema.check(rt.schema, obj, old)
            if findings.unknown and field_validation == "Strict":
                unknown = ", ".join(f'unknown field "{path}"' for path in findings.unknown)
                raise errors.bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a "
                                         f"{rt.kind}: strict decoding error: {unknown}")
            if findings.causes:
                raise errors.invalid(rt.kind, rt.group, obj["metadata"]["name"], findings.causes)
        if rt.storage_key == (CRD_GROUP, CRD_PLURAL):
            obj = self._admit_crd(obj)
        elif rt.storage_key == ("", "namespaces"):
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif rt.storage_key == ("apps", "deployments"):
            obj.setdefault("spec", {}).setdefault("replicas", 1)  # the API server's default
        elif rt.storage_key == ("", "pods"):
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif rt.storage_key == ("", "services"):
            # The allocator knows every stored Service's address; an update keeps its own (`old`).
            obj = services.admit(obj, old, self._cluster_ips(), self.service_network)
        return obj

    # ---- CRDs ---------------------------------------------------------------------------

    def _admit_crd(self, crd: dict[str, Any]) -> dict[str, Any]:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        name = crd["metadata"]["name"]
        causes: list[tuple[str, str, str]] = []
        if not spec.get("group"):
            causes.append(("FieldValueRequired", "spec.group", "Required value"))
        for field in ("plural", "kind"):
            if not names.get(field):
                causes.append(("FieldValueRequired", f"spec.names.{field}", "Required value"))
        if not spec.get("versions"):
            causes.append(("FieldValueRequired", "spec.versions",
                           "Required value: must have exactly one version marked as storage version"))
        if not causes and name != f"{names['plural']}.{spec['group']}":
            causes.append(("FieldValueInvalid", "metadata.name",
                           f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
        if causes:
            raise errors.invalid("CustomResourceDefinition", CRD_GROUP, name, causes)
        for rt in self.registry.all():
            if rt.custom and rt.group == spec["group"] and rt.plural == names["plural"]:
                continue
            if rt.group == spec["group"] and (rt.kind == names["kind"] or rt.plural == names["plural"]):
                raise errors.invalid("CustomResourceDefinition", CRD_GROUP, name, [(
                    "FieldValueInvalid", "status.acceptedNames", f'"{names["plural"]}" is already in use')])
        # Keep the conditions' times across updates: they change only when a status flips.
        previous = {c.get("type"): c.get("lastTransitionTime") for c in (crd.get("status") or {}).get("conditions", [])}
        stamp = now()
        accepted = dict(names)
        accepted.setdefault("singular", names["kind"].lower())
        accepted.setdefault("listKind", f"{names['kind']}List")
        crd["status"] = {
            "acceptedNames": accepted,
            "storedVersions": ([v["name"] for v in spec["versions"] if v.get("storage")]
                               or [spec["versions"][0]["name"]]),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": previous.get("NamesAccepted") or stamp},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted",
                 "lastTransitionTime": previous.get("Established") or stamp},
            ],
        }
        self.registry.register_crd(crd)
        return crd

    # ---- updating -----------------------------------------------------------------------

    def replace(self, rt: ResourceType, namespace: str | None, name: str, body: Any, *,
                subresource: str | None = None, dry_run: bool = False, field_validation: str = ""
                ) -> dict[str, Any]:
        self._check_body(rt, body)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})")
        self._check_kind(rt, body)
        with self.store.lock:
            old = self._existing(rt, namespace, name, subresource)
            return self._commit(rt, old, clone(body), subresource, dry_run=dry_run,
                                field_validation=field_validation)

    def patch(self, rt: ResourceType, namespace: str | None, name: str, content_type: str, body: Any, *,
              subresource: str | None = None, dry_run: bool = False, field_validation: str = ""
              ) -> tuple[dict[str, Any], bool]:
        """Apply a patch; returns (object, created). Server-side apply creates a missing object."""
        with self.store.lock:
            key = self._key(rt, namespace, name)
            if self.store.peek(key) is None and content_type.startswith(patches.APPLY_PATCH) and not subresource:
                if not isinstance(body, dict):
                    raise errors.bad_request("an apply patch must be a YAML or JSON object")
                created_body = clone(body)
                created_body.setdefault("metadata", {})["name"] = name
                return self.create(rt, namespace, created_body, dry_run=dry_run,
                                   field_validation=field_validation), True
            old = self._existing(rt, namespace, name, subresource)
            patched = patches.apply_patch(content_type, self._served(rt, old), body, custom=rt.custom,
                                          schema=rt.schema)
            if not isinstance(patched, dict):
                raise errors.invalid(rt.kind, rt.group, name, [("FieldValueInvalid", "<root>",
                                     "Invalid value: the patched object is not an object")])
            self._check_body(rt, patched)
            return self._commit(rt, old, patched, subresource, dry_run=dry_run,
                                field_validation=field_validation), False

    def _existing(self, rt: ResourceType, namespace: str | None, name: str, subresource: str | None
                  ) -> dict[str, Any]:
        if subresource is not None and subresource not in rt.subresources:
            raise errors.not_found(f"{rt.plural}/{subresource}", rt.group, name)
        old = self.store.get(self._key(rt, namespace, name))
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return old

    def _commit(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], subresource: str | None, *,
                dry_run: bool, field_validation: str) -> dict[str, Any]:
        meta_old = old["metadata"]
        name = meta_old["name"]
        wanted_rv = (new.get("metadata") or {}).get("resourceVersion")
        if wanted_rv not in (None, "") and str(wanted_rv) != meta_old["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, "the object has been modified; please apply your "
                                  "changes to the latest version and try again")
        if subresource == "status":
            candidate = clone(old)
            if "status" in new:
                candidate["status"] = new["status"]
            else:
                candidate.pop("status", None)
        else:
            candidate = new
            meta_new = candidate.get("metadata")
            candidate["metadata"] = meta_new if isinstance(meta_new, dict) else {}
            for field in _SERVER_METADATA:
                if field in meta_old:
                    candidate["metadata"][field] = meta_old[field]
                else:
                    candidate["metadata"].pop(field, None)
            if rt.has_status_subresource:
                if "status" in old:
                    candidate["status"] = old["status"]
                else:
                    candidate.pop("status", None)
        candidate["apiVersion"], candidate["kind"] = rt.api_version, rt.kind
        old_served = self._served(rt, old)
        candidate = self._admit(rt, candidate, old_served, field_validation)
        if meta_old.get("deletionTimestamp"):
            added = set(candidate["metadata"].get("finalizers") or []) - set(meta_old.get("finalizers") or [])
            if added:
                raise errors.invalid(rt.kind, rt.group, name, [("FieldValueForbidden", "metadata.finalizers",
                                     "Forbidden: no new finalizers can be added if the object is being deleted")])
        if _content(candidate, rt) != _content(old_served, rt):
            candidate["metadata"]["generation"] = int(meta_old.get("generation", 1)) + 1
        if candidate == old_served:
            return old_served  # a no-op write changes nothing, not even the resourceVersion
        if dry_run:
            return self._served(rt, candidate)
        candidate["metadata"]["resourceVersion"] = str(self.store.next_resource_version())
        key = self._key(rt, meta_old.get("namespace"), name)
        self.store.put(key, candidate, "MODIFIED", old)
        if candidate["metadata"].get("deletionTimestamp") and not candidate["metadata"].get("finalizers"):
            removed = self._remove(key, propagation=None)
            return self._served(rt, removed or candidate)
        self._sweep()
        return self._served(rt, candidate)

    # ---- deleting -----------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str | None, name: str, *, propagation: str | None = None,
               preconditions: dict[str, Any] | None = None, dry_run: bool = False) -> dict[str, Any]:
        with self.store.lock:
            key = self._key(rt, namespace, name)
            obj = self.store.get(key)
            if obj is None:
                raise errors.not_found(rt.plural, rt.group, name)
            meta = obj["metadata"]
            preconditions = preconditions or {}
            if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
                raise errors.conflict(rt.plural, rt.group, name,
                                      f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                      f"UID in object meta: {meta['uid']}")
            wanted_rv = preconditions.get("resourceVersion")
            if wanted_rv and str(wanted_rv) != meta["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name,
                                      f"Precondition failed: ResourceVersion in precondition: {wanted_rv}, "
                                      f"ResourceVersion in object meta: {meta['resourceVersion']}")
            if dry_run:
                return self._served(rt, obj)
            return self._served(rt, self._delete(key, propagation))

    def _delete(self, key: ObjectKey, propagation: str | None) -> dict[str, Any]:
        obj = self.store.get(key)
        assert obj is not None
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        server_finalizer = None
        if propagation == "Foreground" and self._dependents(obj):
            server_finalizer = _FOREGROUND
        elif propagation == "Orphan" and self._dependents(obj):
            server_finalizer = _ORPHAN
        elif key[:2] == ("", "namespaces") and any(k[2] == key[3] for k, _ in self.store.items()):
            server_finalizer = "kubernetes"
        if server_finalizer is not None and server_finalizer not in finalizers:
            finalizers.append(server_finalizer)
        if not finalizers:
            return self._remove(key, propagation) or obj
        if meta.get("deletionTimestamp"):
            return obj  # already being deleted: the finalizers' owners are on it
        old = clone(obj)
        meta["deletionTimestamp"] = now()
        meta["deletionGracePeriodSeconds"] = 0
        meta["finalizers"] = finalizers
        meta["resourceVersion"] = str(self.store.next_resource_version())
        if key[:2] == ("", "namespaces"):
            obj.setdefault("status", {})["phase"] = "Terminating"
        self.store.put(key, obj, "MODIFIED", old)
        if propagation == "Foreground":
            for dependent in self._dependents(obj):
                self._delete(dependent, "Background")
        elif propagation == "Orphan":
            self._orphan(obj)
        if key[:2] == ("", "namespaces"):
            for dependent, _ in list(self.store.items()):
                if dependent[2] == key[3] and self.store.peek(dependent) is not None:
                    self._delete(dependent, "Background")
        self._sweep()
        return self.store.get(key) or obj

    def _remove(self, key: ObjectKey, propagation: str | None) -> dict[str, Any] | None:
        removed = self.store.remove(key)
        if removed is None:
            return None
        if key[:2] == (CRD_GROUP, CRD_PLURAL):
            self._drop_crd(removed)
        if propagation != "Orphan":
            for dependent in self._dependents(removed):
                if self.store.peek(dependent) is not None:
                    self._delete(dependent, "Background")
        self._sweep()
        return removed

    def _drop_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec", {})
        storage_key = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        for key, _ in list(self.store.items(storage_key)):
            self.store.remove(key)
        self.registry.unregister_crd(crd["metadata"]["name"])

    def _dependents(self, owner: dict[str, Any]) -> builtins.list[ObjectKey]:
        uid = owner["metadata"].get("uid")
        namespace = owner["metadata"].get("namespace")
        found: builtins.list[ObjectKey] = []
        for key, obj in self.store.items():
            if namespace and key[2] != namespace:
                continue
            refs = obj["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == uid for ref in refs):
                found.append(key)
        return found

    def _orphan(self, owner: dict[str, Any]) -> None:
        uid = owner["metadata"]["uid"]
        for key in self._dependents(owner):
            obj = self.store.get(key)
            assert obj is not None
            old = clone(obj)
            obj["metadata"]["ownerReferences"] = [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            obj["metadata"]["resourceVersion"] = str(self.store.next_resource_version())
            self.store.put(key, obj, "MODIFIED", old)

    def _sweep(self) -> None:
        """Release objects whose server-side finalizers are done (foreground, orphan, namespaces)."""
        changed = True
        while changed:
            changed = False
            for key in self.store.deleting():
                obj = self.store.peek(key)
                if obj is None:
                    continue
                meta = obj["metadata"]
                finalizers = list(meta.get("finalizers") or [])
                done = []
                if _FOREGROUND in finalizers and not self._dependents(obj):
                    done.append(_FOREGROUND)
                if _ORPHAN in finalizers:
                    self._orphan(obj)
                    done.append(_ORPHAN)
                if "kubernetes" in finalizers and key[:2] == ("", "namespaces") and not any(
                        k[2] == key[3] for k, _ in self.store.items()):
                    done.append("kubernetes")
                if not done:
                    continue
                changed = True
                remaining = [f for f in finalizers if f not in done]
                if remaining:
                    updated = clone(obj)
                    updated["metadata"]["finalizers"] = remaining
                    updated["metadata"]["resourceVersion"] = str(self.store.next_resource_version())
                    self.store.put(key, updated, "MODIFIED", obj)
                else:
                    self._remove(key, "Background")

    def delete_collection(self, rt: ResourceType, namespace: str | None,
                          predicate: Callable[[dict[str, Any]], bool], *, propagation: str | None = None
                          ) -> builtins.list[dict[str, Any]]:
        with self.store.lock:
            deleted = []
            for key, obj in list(self.store.items(rt.storage_key, namespace or None)):
                if predicate(obj) and self.store.peek(key) is not None:
                    deleted.append(self._served(rt, self._delete(key, propagation)))
            return deleted
