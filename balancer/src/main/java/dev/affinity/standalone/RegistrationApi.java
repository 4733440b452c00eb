package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.affinity.admin.AdminTokens;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetUri;
import dev.affinity.jetty.AdminHandler;
import dev.affinity.standalone.RegistrationState.Draining;
import dev.affinity.standalone.RegistrationState.Registered;
import dev.affinity.standalone.RegistrationState.Snapshot;
import dev.affinity.standalone.Topology.DynamicTarget;
import dev.affinity.standalone.config.TargetConfig;
import dev.affinity.standalone.config.TargetGroupConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registration API under {@code {admin.path}/api}: the groups and their targets with health and pin
 * counters; register, deregister (drain for the group's deregistration delay, then gone) and reweigh
 * targets. {@link AdminHandler} has checked the caller's token before anything gets here; this class
 * checks the input and changes the {@link Topology} of this one instance (as HAProxy's runtime API does:
 * a fleet shares targets through the YAML or DNS). Every change is logged with the token's id, and kept
 * in a {@link RegistrationState} file before it is applied: a change that cannot be kept is refused with 503
 * and never reaches the routing.
 *
 * <p>Input is refused with a 4xx and a JSON error naming the field ({@code body}, {@code group}, {@code id},
 * {@code uri}, {@code weight}), and then nothing changed. Reads are answered on the request's thread;
 * changes on the server's pool, one at a time (a target's host name may be resolved to see whether it is
 * this balancer).
 */
final class RegistrationApi implements AdminHandler.Api {
  private static final Logger LOG = LoggerFactory.getLogger(RegistrationApi.class);
  /** A registration is a few hundred bytes; anything much larger is not one. */
  static final int MAX_BODY_BYTES = 16 * 1024;
  private static final String GROUPS = "/groups";

  private final Topology topology;
  private final RegistrationState state;
  private final Clock clock;
  private final Supplier<Set<Integer>> ownPorts;
  /** Deregistered targets still draining, by id: changed under this object's lock, read by listings without it. */
  private final Map<String, Draining> draining = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param ownPorts the ports this balancer listens on (public and admin): a target there on a local address is this balancer
   */
  RegistrationApi(Topology topology, RegistrationState state, Clock clock, Supplier<Set<Integer>> ownPorts) {
    this.topology = requireNonNull(topology, "topology");
    this.state = requireNonNull(state, "state");
    this.clock = requireNonNull(clock, "clock");
    this.ownPorts = requireNonNull(ownPorts, "ownPorts");
  }

  /**
   * Brings back what the state file holds, before the server starts: registered targets, and deregistered
   * ones still within their group's delay as draining members. The YAML wins for the ids it has: such a
   * registration is dropped (and logged), as is one for a target whose delay has ended.
   */
  synchronized void restore() throws IOException {
    Snapshot snapshot = state.load();
    Set<String> yamlIds = yamlIds();
    Instant now = clock.instant();
    int restored = 0;
    for (Registered r : snapshot.registered()) {
      if (yamlIds.contains(r.id())) {
        LOG.warn("affinity: the registered target {} of group {} is now in the YAML; the YAML's wins and the registration is dropped",
            r.id(), r.group());
        continue;
      }
      try {
        topology.put(new DynamicTarget(r.group(), r.id(), r.uri(), r.weight(), Topology.Source.API));
        restored++;
      } catch (RuntimeException e) {
        LOG.warn("affinity: the registered target {} of group {} cannot be restored: {}", r.id(), r.group(), e.getMessage());
      }
    }
    for (Draining d : snapshot.draining()) {
      TargetGroupConfig group = group(d.group());
      if (group == null || yamlIds.contains(d.id()) || isDynamic(d.id())
          || !now.isBefore(d.since().plus(group.deregistrationDelay()))) {
        continue;
      }
      // Registered, drained from the moment the drain began, then removed: the rebuild keeps it as a
      // draining member until since + delay, exactly as if the balancer had not restarted.
      try {
        topology.put(new DynamicTarget(d.group(), d.id(), d.uri(), d.weight(), Topology.Source.API));
        topology.server().balancer().router().target(d.id()).drain(d.since());
        topology.remove(d.group(), d.id());
        draining.put(d.id(), d);
        restored++;
      } catch (RuntimeException e) {
        topology.remove(d.group(), d.id());
        LOG.warn("affinity: the draining target {} of group {} cannot be restored: {}", d.id(), d.group(), e.getMessage());
      }
    }
    if (restored > 0 || !snapshot.registered().isEmpty() || !snapshot.draining().isEmpty()) {
      LOG.info("affinity: restored {} registered or draining targets from {}", restored, state.file());
    }
    if (restored < snapshot.registered().size() + snapshot.draining().size()) {
      // What was dropped is dropped for good; a read-only file is no reason not to start.
      try {
        save();
      } catch (IOException e) {
        LOG.warn("affinity: cannot rewrite {} without the dropped entries: {}", state.file(), e.toString());
      }
    }
  }

  @Override
  public void handle(String subPath, AdminTokens.Caller caller, Request request, Response response, Callback callback) {
    String method = request.getMethod();
    List<String> segments = segments(subPath);
    if (segments == null || segments.isEmpty() || !segments.get(0).equals("groups") || segments.size() > 4
        || segments.size() == 3 && !segments.get(2).equals("targets") || segments.size() == 4 && !segments.get(2).equals("targets")) {
      AdminHandler.error(response, callback, HttpStatus.NOT_FOUND_404,
          "no such API path; try GET " + GROUPS + ", POST " + GROUPS + "/{group}/targets, PATCH or DELETE " + GROUPS + "/{group}/targets/{id}", null);
      return;
    }
    boolean read = method.equals("GET") || method.equals("HEAD");
    switch (segments.size()) {
      case 1 -> {
        if (!read) {
          methodNotAllowed(response, callback, "GET");
          return;
        }
        write(response, callback, HttpStatus.OK_200, groups(null));
      }
      case 2, 3 -> {
        if (segments.size() == 3 && method.equals("POST")) {
          onPool(request, response, callback, body -> register(caller, segments.get(1), body));
        } else if (read) {
          String name = segments.get(1);
          if (group(name) == null) {
            AdminHandler.error(response, callback, HttpStatus.NOT_FOUND_404, "no group " + quote(name), "group");
            return;
          }
          ObjectNode all = groups(name);
          write(response, callback, HttpStatus.OK_200, segments.size() == 2 ? all.get("groups").get(0) : all.get("groups").get(0).get("targets"));
        } else {
          methodNotAllowed(response, callback, segments.size() == 3 ? "GET, POST" : "GET");
        }
      }
      default -> {
        String group = segments.get(1);
        String id = segments.get(3);
        switch (method) {
          case "DELETE" -> onPool(request, response, callback, body -> deregister(caller, group, id));
          case "PATCH" -> onPool(request, response, callback, body -> reweigh(caller, group, id, body));
          default -> methodNotAllowed(response, callback, "PATCH, DELETE");
        }
      }
    }
  }

  /** What a change answers: a status and a JSON body, or a refusal naming the field. */
  private record Answer(int status, JsonNode body, String error, String field) {
    static Answer ok(int status, JsonNode body) {
      return new Answer(status, body, null, null);
    }

    static Answer refused(int status, String error, String field) {
      return new Answer(status, null, error, field);
    }
  }

  /** Thrown inside a change to refuse it; nothing has changed when it is thrown. */
  private static final class Refused extends RuntimeException {
    final Answer answer;

    Refused(int status, String error, String field) {
      super(error, null, false, false);
      this.answer = Answer.refused(status, error, field);
    }
  }

  @FunctionalInterface
  private interface Change {
    Answer apply(byte[] body);
  }

  /** Reads the body without blocking, then applies {@code change} on the server's pool. */
  private void onPool(Request request, Response response, Callback callback, Change change) {
    long length = request.getLength();
    if (length > MAX_BODY_BYTES) {
      AdminHandler.error(response, callback, HttpStatus.PAYLOAD_TOO_LARGE_413, "the body must be at most " + MAX_BODY_BYTES + " bytes", "body");
      return;
    }
    Content.Source.asByteArrayAsync(request, MAX_BODY_BYTES).whenComplete((body, failure) -> {
      if (failure != null) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        AdminHandler.error(response, callback, HttpStatus.BAD_REQUEST_400, "cannot read the body: " + cause.getMessage(), "body");
        return;
      }
      request.getComponents().getExecutor().execute(() -> {
        Answer answer;
        try {
          synchronized (this) {
            answer = change.apply(body);
          }
        } catch (Refused refused) {
          answer = refused.answer;
        } catch (RuntimeException e) {
          LOG.error("affinity: a registration API change failed", e);
          answer = Answer.refused(HttpStatus.INTERNAL_SERVER_ERROR_500, "the change failed: " + e.getMessage(), null);
        }
        if (answer.error() != null) {
          AdminHandler.error(response, callback, answer.status(), answer.error(), answer.field());
        } else {
          write(response, callback, answer.status(), answer.body());
        }
      });
    });
  }

  private Answer register(AdminTokens.Caller caller, String groupName, byte[] body) {
    TargetGroupConfig group = requireGroup(groupName);
    JsonNode json = object(body, Set.of("id", "uri", "weight"));
    String id = text(json, "id");
    if (id == null) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "id is required: a target id such as blue-7, unique across all groups", "id");
    }
    try {
      // Core's id rule, as the YAML's targets follow it.
      new Target(id, URI.create("http://127.0.0.1:1"), Target.MAX_WEIGHT, HealthCheckSettings.defaults());
    } catch (IllegalArgumentException e) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, e.getMessage(), "id");
    }
    String uriText = text(json, "uri");
    if (uriText == null) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "uri is required: the target's http(s)://host:port", "uri");
    }
    URI uri;
    try {
      uri = TargetUri.parse(uriText);
    } catch (IllegalArgumentException e) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, e.getMessage(), "uri");
    }
    int weight = json.has("weight") ? weight(json) : TargetConfig.DEFAULT_WEIGHT;
    if (yamlIds().contains(id)) {
      throw new Refused(HttpStatus.CONFLICT_409, "target id " + quote(id) + " is configured in the YAML; ids are unique across all groups", "id");
    }
    for (DynamicTarget t : topology.dynamicTargets()) {
      if (t.id().equals(id)) {
        throw new Refused(HttpStatus.CONFLICT_409, "target id " + quote(id) + " is already registered in group " + quote(t.group())
            + (t.source() == Topology.Source.DNS ? " by DNS discovery" : "") + "; change its weight with PATCH or DELETE it first", "id");
      }
    }
    Target leftover = topology.server().balancer().router().target(id);
    if (leftover != null && !draining.containsKey(id)) {
      throw new Refused(HttpStatus.CONFLICT_409, "target id " + quote(id) + " is still draining after a reload; pick another id", "id");
    }
    String self = pointsAtThisBalancer(uri);
    if (self != null) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "uri " + quote(uri.toString()) + " is this balancer (" + self + "): it would forward to itself", "uri");
    }
    DynamicTarget target = new DynamicTarget(group.name(), id, uri, weight, Topology.Source.API);
    List<DynamicTarget> after = new ArrayList<>(apiTargets());
    after.add(target);
    Map<String, Draining> drainsAfter = new LinkedHashMap<>(draining);
    drainsAfter.remove(id);
    // Kept first, applied second: a change that cannot be kept never reaches the routing.
    keep(after, drainsAfter);
    try {
      topology.put(target);
    } catch (IllegalArgumentException | IllegalStateException e) {
      keepBack();
      throw new Refused(HttpStatus.CONFLICT_409, e.getMessage(), "id");
    }
    draining.remove(id);
    LOG.info("affinity: token {} registered target {} ({}, weight {}) in group {}", caller.id(), id, uri, weight, group.name());
    return Answer.ok(HttpStatus.CREATED_201, targetJson(group.name(), id));
  }

  private Answer deregister(AdminTokens.Caller caller, String groupName, String id) {
    TargetGroupConfig group = requireGroup(groupName);
    DynamicTarget target = requireRegistered(group, id);
    Instant now = clock.instant();
    Draining drain = new Draining(group.name(), id, target.uri(), target.weight(), now);
    List<DynamicTarget> after = new ArrayList<>(apiTargets());
    after.remove(target);
    Map<String, Draining> drainsAfter = new LinkedHashMap<>(draining);
    drainsAfter.put(id, drain);
    keep(after, drainsAfter);
    topology.remove(group.name(), id);
    draining.put(id, drain);
    Instant until = now.plus(group.deregistrationDelay());
    LOG.info("affinity: token {} deregistered target {} of group {}; it drains until {}", caller.id(), id, group.name(), until);
    ObjectNode body = RegistrationState.JSON.createObjectNode().put("group", group.name()).put("id", id).put("draining", true)
        .put("drainingUntil", until.toString());
    return Answer.ok(HttpStatus.ACCEPTED_202, body);
  }

  private Answer reweigh(AdminTokens.Caller caller, String groupName, String id, byte[] body) {
    TargetGroupConfig group = requireGroup(groupName);
    DynamicTarget target = requireRegistered(group, id);
    JsonNode json = object(body, Set.of("weight"));
    if (!json.has("weight")) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "weight is required", "weight");
    }
    int weight = weight(json);
    DynamicTarget changed = new DynamicTarget(target.group(), id, target.uri(), weight, Topology.Source.API);
    List<DynamicTarget> after = new ArrayList<>(apiTargets());
    after.set(after.indexOf(target), changed);
    keep(after, draining);
    try {
      topology.put(changed);
    } catch (IllegalArgumentException | IllegalStateException e) {
      keepBack();
      throw new Refused(HttpStatus.CONFLICT_409, e.getMessage(), "weight");
    }
    LOG.info("affinity: token {} changed the weight of target {} of group {} from {} to {}", caller.id(), id, group.name(),
        target.weight(), weight);
    return Answer.ok(HttpStatus.OK_200, targetJson(group.name(), id));
  }

  private TargetGroupConfig requireGroup(String name) {
    TargetGroupConfig group = group(name);
    if (group == null) {
      throw new Refused(HttpStatus.NOT_FOUND_404, "no group " + quote(name), "group");
    }
    return group;
  }

  private DynamicTarget requireRegistered(TargetGroupConfig group, String id) {
    for (DynamicTarget t : topology.dynamicTargets()) {
      if (t.group().equals(group.name()) && t.id().equals(id)) {
        if (t.source() != Topology.Source.API) {
          throw new Refused(HttpStatus.CONFLICT_409, "target " + quote(id) + " comes from DNS discovery; the DNS answer decides it", "id");
        }
        return t;
      }
    }
    if (group.targets().stream().anyMatch(t -> t.id().equals(id))) {
      throw new Refused(HttpStatus.CONFLICT_409, "target " + quote(id) + " is configured in the YAML; change it there", "id");
    }
    throw new Refused(HttpStatus.NOT_FOUND_404, "group " + quote(group.name()) + " has no registered target " + quote(id), "id");
  }

  /** The targets registered through the API, as the topology has them. */
  private List<DynamicTarget> apiTargets() {
    return topology.dynamicTargets().stream().filter(t -> t.source() == Topology.Source.API).toList();
  }

  /** Writes the state a change will leave; refused with 503 (nothing changed yet) when it cannot be written. */
  private void keep(List<DynamicTarget> registered, Map<String, Draining> drains) {
    try {
      write(registered, drains);
    } catch (IOException e) {
      LOG.error("affinity: cannot write the registration state {}; the change is refused: {}", state.file(), e.toString());
      throw new Refused(HttpStatus.SERVICE_UNAVAILABLE_503,
          "the change could not be written to the state file (see the balancer's log); nothing changed", null);
    }
  }

  /** After core refused a change already kept: the file goes back to what is routed. */
  private void keepBack() {
    try {
      save();
    } catch (IOException e) {
      LOG.error("affinity: cannot write the registration state {} back: {}", state.file(), e.toString());
    }
  }

  /** Writes what is registered and what still drains. */
  private void save() throws IOException {
    write(apiTargets(), draining);
  }

  /** Drains that ended are forgotten (from {@code drains} too). */
  private void write(List<DynamicTarget> registered, Map<String, Draining> drains) throws IOException {
    Instant now = clock.instant();
    for (Iterator<Draining> it = drains.values().iterator(); it.hasNext(); ) {
      Draining d = it.next();
      TargetGroupConfig group = group(d.group());
      if (group == null || !now.isBefore(d.since().plus(group.deregistrationDelay()))) {
        it.remove();
      }
    }
    List<Registered> entries = new ArrayList<>();
    for (DynamicTarget t : registered) {
      entries.add(new Registered(t.group(), t.id(), t.uri(), t.weight()));
    }
    state.save(new Snapshot(entries, List.copyOf(drains.values())));
  }

  private static JsonNode object(byte[] body, Set<String> fields) {
    JsonNode json;
    try {
      json = RegistrationState.JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "the body is not valid JSON: " + e.getOriginalMessage(), "body");
    } catch (IOException e) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "cannot read the body: " + e.getMessage(), "body");
    }
    if (json == null || !json.isObject()) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "the body must be a JSON object with " + String.join(", ", fields), "body");
    }
    for (Iterator<String> names = json.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!fields.contains(name)) {
        throw new Refused(HttpStatus.BAD_REQUEST_400, "unknown field " + quote(name) + "; the fields are " + String.join(", ", fields), name);
      }
    }
    return json;
  }

  private static String text(JsonNode json, String field) {
    JsonNode value = json.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isTextual()) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, field + " must be a string, got " + value.getNodeType().name().toLowerCase(Locale.ROOT), field);
    }
    return value.asText();
  }

  private static int weight(JsonNode json) {
    JsonNode value = json.get("weight");
    if (!value.isIntegralNumber() || !value.canConvertToInt() || value.asInt() < 0 || value.asInt() > Target.MAX_WEIGHT) {
      throw new Refused(HttpStatus.BAD_REQUEST_400, "weight must be a whole number from 0 to " + Target.MAX_WEIGHT + ", got " + value, "weight");
    }
    return value.asInt();
  }

  /**
   * Why {@code uri} is this balancer, or {@code null}: one of its ports on an address of this machine
   * (loopback, the wildcard, an interface's). A host name is resolved for this (on the pool, not a selector).
   */
  private String pointsAtThisBalancer(URI uri) {
    if (!ownPorts.get().contains(uri.getPort())) {
      return null;
    }
    String host = uri.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      // Not resolvable here and now: not this machine as far as anyone can tell; health checks will judge it.
      return null;
    }
    for (InetAddress address : addresses) {
      try {
        if (address.isLoopbackAddress() || address.isAnyLocalAddress() || NetworkInterface.getByInetAddress(address) != null) {
          return "port " + uri.getPort() + " on " + address.getHostAddress() + ", an address of this machine";
        }
      } catch (SocketException e) {
        // Interfaces cannot be listed: loopback and the wildcard were checked already.
      }
    }
    return null;
  }

  private TargetGroupConfig group(String name) {
    for (TargetGroupConfig g : topology.config().targetGroups()) {
      if (g.name().equals(name)) {
        return g;
      }
    }
    return null;
  }

  private Set<String> yamlIds() {
    Set<String> ids = new java.util.HashSet<>();
    for (TargetGroupConfig g : topology.config().targetGroups()) {
      for (TargetConfig t : g.targets()) {
        ids.add(t.id());
      }
    }
    return ids;
  }

  private boolean isDynamic(String id) {
    return topology.dynamicTargets().stream().anyMatch(t -> t.id().equals(id));
  }

  /** Every group (or just {@code only}) as routed, each target with where it came from, health and pin counters. */
  private ObjectNode groups(String only) {
    Router router = topology.server().balancer().router();
    Instant now = clock.instant();
    Map<String, DynamicTarget> dynamic = new LinkedHashMap<>();
    for (DynamicTarget t : topology.dynamicTargets()) {
      dynamic.put(t.group() + "\n" + t.id(), t);
    }
    Set<String> yamlIds = yamlIds();
    ObjectNode root = RegistrationState.JSON.createObjectNode();
    ArrayNode groups = root.putArray("groups");
    for (TargetGroupConfig config : topology.config().targetGroups()) {
      if (only != null && !only.equals(config.name())) {
        continue;
      }
      TargetGroup group = router.group(config.name());
      ObjectNode g = groups.addObject().put("name", config.name())
          .put("deregistrationDelay", config.deregistrationDelay().toString());
      ArrayNode targets = g.putArray("targets");
      if (group == null) {
        continue;
      }
      for (Target t : group.targets()) {
        DynamicTarget d = dynamic.get(config.name() + "\n" + t.id());
        String source = yamlIds.contains(t.id()) && !t.isDraining() ? "yaml"
            : d != null ? d.source().name().toLowerCase(Locale.ROOT)
            : draining.containsKey(t.id()) ? "api" : "removed";
        targets.add(target(t, source, group.deregistrationDelay(), now));
      }
    }
    if (only == null) {
      // Registered for a group the YAML no longer has: kept, not routed, until the group comes back.
      ArrayNode unrouted = root.putArray("unrouted");
      for (DynamicTarget t : dynamic.values()) {
        if (group(t.group()) == null) {
          unrouted.addObject().put("group", t.group()).put("id", t.id()).put("uri", t.uri().toString()).put("weight", t.weight())
              .put("source", t.source().name().toLowerCase(Locale.ROOT));
        }
      }
    }
    return root;
  }

  private JsonNode targetJson(String groupName, String id) {
    for (JsonNode t : groups(groupName).get("groups").get(0).get("targets")) {
      if (t.get("id").asText().equals(id)) {
        return t;
      }
    }
    return RegistrationState.JSON.createObjectNode().put("group", groupName).put("id", id);
  }

  private static ObjectNode target(Target t, String source, Duration delay, Instant now) {
    ObjectNode json = RegistrationState.JSON.createObjectNode()
        .put("id", t.id())
        .put("uri", t.uri().toString())
        .put("weight", t.weight())
        .put("source", source)
        .put("health", t.health().state().name().toLowerCase(Locale.ROOT))
        .put("available", t.isAvailable(now))
        .put("draining", t.isDraining());
    if (t.isDraining()) {
      json.put("drainingUntil", t.drainingSince().plus(delay).toString());
    }
    return json.put("inFlight", t.inFlight())
        .put("requests", t.requests())
        .put("newPins", t.newPins())
        .put("stickyHits", t.stickyHits())
        .put("rePins", t.rePins())
        .put("failures", t.failures());
  }

  /** The path's segments; {@code null} when one is empty. */
  private static List<String> segments(String subPath) {
    List<String> segments = new ArrayList<>();
    if (subPath.isEmpty() || subPath.equals("/")) {
      return segments;
    }
    String[] raw = subPath.substring(1).split("/", -1);
    for (String s : raw) {
      if (s.isEmpty()) {
        return null;
      }
      // Jetty has decoded the path already (and refused ambiguous encodings such as %2F).
      segments.add(s);
    }
    return segments;
  }

  private static void methodNotAllowed(Response response, Callback callback, String allow) {
    response.getHeaders().put(HttpHeader.ALLOW, allow);
    AdminHandler.error(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "allowed here: " + allow, null);
  }

  private static void write(Response response, Callback callback, int status, JsonNode body) {
    byte[] bytes;
    try {
      bytes = RegistrationState.JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      callback.failed(e);
      return;
    }
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json;charset=utf-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    Content.Sink.write(response, true, new String(bytes, StandardCharsets.UTF_8) + "\n", callback);
  }

  private static String quote(String text) {
    String shown = text.length() > 100 ? text.substring(0, 100) + "…" : text;
    StringBuilder out = new StringBuilder("\"");
    for (char c : shown.toCharArray()) {
      out.append(c < 0x20 || c == 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    return out.append('"').toString();
  }
}
