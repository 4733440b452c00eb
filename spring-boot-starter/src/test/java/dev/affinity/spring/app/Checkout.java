package dev.affinity.spring.app;

import dev.affinity.filter.Sticky;
import org.springframework.stereotype.Service;

/** A service bean (not a controller) whose method pins, as with CDI. */
@Service
public class Checkout {

  @Sticky
  public String pay() {
    return "paid";
  }
}
