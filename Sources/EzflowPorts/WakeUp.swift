// Which processes a backend's wake-up is for. Workers wait for offers and coordinators for
// results, each on a channel of its own: on one shared channel every completion woke every
// idle worker into a claim that found nothing (at 4 workers, ~4 empty claims per task,
// most of a PostgreSQL server's transactions in `ezbench distributed`).
public enum WakeUp: String, Sendable, CaseIterable {
    /// New work on the queue: the workers look.
    case offers
    /// Results handed back: the coordinators look.
    case results
}
