package dev.affinity.spring.app;

import dev.affinity.filter.Sticky;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** @Sticky on the class: every handler method pins. */
@Sticky
@RestController
public class StickyController {

  @GetMapping("/wizard/step")
  public String step() {
    return "step";
  }
}
