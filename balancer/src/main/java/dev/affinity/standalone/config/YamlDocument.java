package dev.affinity.standalone.config;

import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.events.CollectionEndEvent;
import org.snakeyaml.engine.v2.events.CollectionStartEvent;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.ReaderException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.parser.Parser;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * YAML text in, the root {@link YamlNode} out: SnakeYAML Engine composes the nodes (which keep their
 * line numbers), and every problem, syntax included, becomes a {@link ConfigException} with a line.
 * Limits keep hostile input cheap: at most {@value #MAX_CHARS} characters, {@value #MAX_DEPTH} levels
 * of nesting (checked on the event stream as the composer pulls it, so deep nesting cannot overflow
 * the stack) and {@value #MAX_ALIASES} aliases.
 */
final class YamlDocument {
  static final int MAX_CHARS = 1024 * 1024;
  static final int MAX_DEPTH = 32;
  static final int MAX_ALIASES = 50;
  /** Immutable once built (its resolvers only match), so one serves every parse. */
  private static final CoreSchema SCHEMA = new CoreSchema();

  private YamlDocument() {}

  /** The document's root value, or null when it is empty or only comments; relative paths from the working directory. */
  static YamlNode parse(String yaml, String source) {
    return parse(yaml, source, Path.of(""));
  }

  /** As {@link #parse(String, String)}, relative paths in the file resolved against {@code baseDir}. */
  static YamlNode parse(String yaml, String source, Path baseDir) {
    String text = !yaml.isEmpty() && yaml.charAt(0) == '\uFEFF' ? yaml.substring(1) : yaml;
    if (text.length() > MAX_CHARS) {
      throw new ConfigException(source, 0, "", "the file is larger than " + MAX_CHARS + " characters");
    }
    LoadSettings settings = LoadSettings.builder()
        .setLabel(source)
        .setSchema(SCHEMA)
        .setAllowDuplicateKeys(false)
        .setAllowRecursiveKeys(false)
        .setAllowNonScalarKeys(true) // reported by YamlNode.map with a line and key path
        .setMaxAliasesForCollections(MAX_ALIASES)
        .setCodePointLimit(MAX_CHARS + 1)
        .setParseComments(false)
        .setUseMarks(true)
        .build();
    Optional<Node> root;
    try {
      Parser parser = new DepthLimitedParser(new ParserImpl(settings, new StreamReader(settings, new StringReader(text))), source);
      root = new Composer(settings, parser).getSingleNode();
    } catch (MarkedYamlEngineException e) {
      throw syntaxError(e, source);
    } catch (ReaderException e) {
      throw new ConfigException(source, lineAtCodePoint(text, e.getPosition()), "",
          "invalid YAML: " + e.getMessage() + " (code point " + String.format("U+%04X", e.getCodePoint()) + ")");
    } catch (YamlEngineException e) {
      throw new ConfigException(source, 0, "", "invalid YAML: " + e.getMessage());
    }
    if (root.isEmpty() || YamlNode.isNull(root.get())) {
      return null;
    }
    return new YamlNode(source, root.get(), YamlNode.lineOf(root.get(), 1), "", baseDir);
  }

  /** Strict UTF-8; a bad byte is reported with its line. */
  static String decodeUtf8(byte[] bytes, String source) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      return decoder.decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      // Find the first bad byte to name its line.
      ByteBuffer probe = ByteBuffer.wrap(bytes);
      decoder.reset().decode(probe, CharBuffer.allocate(bytes.length + 1), true);
      int line = 1;
      for (int i = 0; i < probe.position(); i++) {
        if (bytes[i] == '\n') {
          line++;
        }
      }
      throw new ConfigException(source, line, "", "the file is not valid UTF-8 (bad byte at offset " + probe.position() + ")", e);
    }
  }

  /**
   * Hands events to the (recursive) composer and refuses deep nesting before the composer's stack
   * grows with it; the parser itself is iterative.
   */
  private static final class DepthLimitedParser implements Parser {
    private final Parser delegate;
    private final String source;
    private int depth;

    DepthLimitedParser(Parser delegate, String source) {
      this.delegate = delegate;
      this.source = source;
    }

    @Override
    public boolean checkEvent(Event.ID id) {
      return delegate.checkEvent(id);
    }

    @Override
    public Event peekEvent() {
      return delegate.peekEvent();
    }

    @Override
    public boolean hasNext() {
      return delegate.hasNext();
    }

    @Override
    public Event next() {
      Event event = delegate.next();
      if (event instanceof CollectionStartEvent) {
        if (++depth > MAX_DEPTH) {
          int line = event.getStartMark().map(m -> m.getLine() + 1).orElse(0);
          throw new ConfigException(source, line, "", "nested more than " + MAX_DEPTH + " levels deep");
        }
      } else if (event instanceof CollectionEndEvent) {
        depth--;
      }
      return event;
    }
  }

  private static ConfigException syntaxError(MarkedYamlEngineException e, String source) {
    Optional<Mark> problemMark = e.getProblemMark();
    Optional<Mark> contextMark = e.getContextMark();
    int line = problemMark.or(() -> contextMark).map(m -> m.getLine() + 1).orElse(0);
    StringBuilder problem = new StringBuilder("invalid YAML: ");
    String what = e.getProblem() != null ? e.getProblem() : e.getContext();
    problem.append(what == null ? "syntax error" : what);
    if (e.getContext() != null && e.getProblem() != null) {
      problem.append(" (").append(e.getContext());
      contextMark.ifPresent(m -> problem.append(" started at line ").append(m.getLine() + 1));
      problem.append(')');
    }
    return new ConfigException(source, line, "", problem.toString());
  }

  private static int lineAtCodePoint(String text, int codePointIndex) {
    int line = 1;
    int seen = 0;
    for (int i = 0; i < text.length() && seen < codePointIndex; i += Character.charCount(text.codePointAt(i)), seen++) {
      if (text.charAt(i) == '\n') {
        line++;
      }
    }
    return line;
  }
}
