package dev.affinity.rules;

import java.util.List;

/**
 * An answer the balancer gives itself, as ALB's fixed-response action: a status from 200 to 599, one of
 * ALB's content types ({@code text/plain} when none is given) and a body of at most 1024 characters.
 * The body is sent as UTF-8 ({@link #contentTypeHeader()}).
 */
public record FixedResponse(int status, String contentType, String body) implements RuleAction {
  /** ALB's list: what a balancer's own message reasonably is. */
  public static final List<String> CONTENT_TYPES =
      List.of("text/plain", "text/css", "text/html", "application/javascript", "application/json");
  public static final int MAX_BODY = 1024;

  public FixedResponse {
    if (status < 200 || status > 599) {
      throw new IllegalArgumentException("fixedResponse status must be between 200 and 599, got " + status);
    }
    if (contentType == null) {
      contentType = "text/plain";
    } else if (!CONTENT_TYPES.contains(contentType)) {
      throw new IllegalArgumentException("fixedResponse contentType must be one of " + CONTENT_TYPES + ", got \""
          + contentType + "\"");
    }
    if (body == null) {
      body = "";
    } else if (body.length() > MAX_BODY) {
      throw new IllegalArgumentException("fixedResponse body must be at most " + MAX_BODY + " characters, got "
          + body.length());
    }
  }

  /** The Content-Type to send, with the charset the body is encoded in. */
  public String contentTypeHeader() {
    return contentType + ";charset=utf-8";
  }
}
