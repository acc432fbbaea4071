package com.example.dapr.billing;

/**
 * A charge as the ledger keeps it: the charge, when and by which replica it was recorded, and the token of the
 * attempt that recorded it (which tells an attempt whose save failed midway whether its own save was applied).
 */
record LedgerEntry(String chargeId, String taskId, String title, String completedAt, String recordedAt,
                   String replica, String attempt) {

  /** The answer to {@code POST /charges} and {@code GET /charges/{charge_id}}: the entry without its attempt. */
  ChargeAnswer answer(boolean duplicate) {
    return new ChargeAnswer("charged", chargeId, taskId, title, completedAt, recordedAt, replica,
      duplicate ? Boolean.TRUE : null);
  }

  record ChargeAnswer(String status, String chargeId, String taskId, String title, String completedAt,
                      String recordedAt, String replica, Boolean duplicate) {
  }
}
