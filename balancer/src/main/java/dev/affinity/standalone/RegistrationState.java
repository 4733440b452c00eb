package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.affinity.balancer.TargetUri;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * What the registration API changed, kept across restarts in one small JSON file: the targets it
 * registered, and the ones it deregistered that are still draining (with the moment the drain began, so
 * that their pinned clients keep them until the group's deregistration delay ends, restart or not).
 *
 * <p>Written whole on every change: to a temporary file in the same directory, forced to disk, then
 * renamed over the old one with {@link StandardCopyOption#ATOMIC_MOVE}, so a crash at any moment leaves
 * either the old file or the new one, never half of one. A database would add a dependency and a process
 * for a list of a few dozen entries that changes a few times a day.
 */
final class RegistrationState {
  static final int VERSION = 1;
  static final ObjectMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  /** A target the API registered. */
  record Registered(String group, String id, URI uri, int weight) {
    Registered {
      requireNonNull(group, "group");
      requireNonNull(id, "id");
      requireNonNull(uri, "uri");
    }
  }

  /** A target the API deregistered at {@code since}; it drains until {@code since} plus its group's delay. */
  record Draining(String group, String id, URI uri, int weight, Instant since) {
    Draining {
      requireNonNull(group, "group");
      requireNonNull(id, "id");
      requireNonNull(uri, "uri");
      requireNonNull(since, "since");
    }
  }

  record Snapshot(List<Registered> registered, List<Draining> draining) {
    Snapshot {
      registered = List.copyOf(registered);
      draining = List.copyOf(draining);
    }

    static Snapshot empty() {
      return new Snapshot(List.of(), List.of());
    }
  }

  private final Path file;

  RegistrationState(Path file) {
    this.file = requireNonNull(file, "file");
  }

  Path file() {
    return file;
  }

  /**
   * The snapshot in the file; empty when there is no file yet.
   *
   * @throws IOException when the file cannot be read or is not a state file (the message names the file and what is wrong)
   */
  Snapshot load() throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return Snapshot.empty();
    }
    try {
      JsonNode root = JSON.readTree(bytes);
      if (root == null || !root.isObject() || root.path("version").asInt(-1) != VERSION) {
        throw new IOException(file + ": not an Affinity state file of version " + VERSION);
      }
      List<Registered> registered = new ArrayList<>();
      for (JsonNode t : root.path("targets")) {
        registered.add(new Registered(text(t, "group"), text(t, "id"), TargetUri.parse(text(t, "uri")), t.path("weight").asInt()));
      }
      List<Draining> draining = new ArrayList<>();
      for (JsonNode t : root.path("draining")) {
        draining.add(new Draining(text(t, "group"), text(t, "id"), TargetUri.parse(text(t, "uri")), t.path("weight").asInt(),
            Instant.parse(text(t, "since"))));
      }
      return new Snapshot(registered, draining);
    } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
      throw new IOException(file + ": cannot read the registration state: " + e.getMessage(), e);
    }
  }

  private static String text(JsonNode node, String field) throws IOException {
    JsonNode value = node.get(field);
    if (value == null || !value.isTextual()) {
      throw new IOException("an entry has no " + field);
    }
    return value.asText();
  }

  /** Replaces the file with {@code snapshot}, atomically. */
  void save(Snapshot snapshot) throws IOException {
    ObjectNode root = JSON.createObjectNode().put("version", VERSION);
    ArrayNode targets = root.putArray("targets");
    for (Registered r : snapshot.registered()) {
      targets.addObject().put("group", r.group()).put("id", r.id()).put("uri", r.uri().toString()).put("weight", r.weight());
    }
    ArrayNode draining = root.putArray("draining");
    for (Draining d : snapshot.draining()) {
      draining.addObject().put("group", d.group()).put("id", d.id()).put("uri", d.uri().toString()).put("weight", d.weight())
          .put("since", d.since().toString());
    }
    byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
    Path directory = file.toAbsolutePath().getParent();
    Path temp = Files.createTempFile(directory, "." + file.getFileName() + ".", ".tmp");
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE);
           OutputStream out = java.nio.channels.Channels.newOutputStream(channel)) {
        out.write(bytes);
        out.flush();
        // On disk before the rename: otherwise a power cut could leave the new name on empty content.
        channel.force(true);
      }
      try {
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the file system of " + directory + " cannot rename atomically; choose another admin.stateFile", e);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}
