/*
 * train.h
 *	  recgan_train (train.c) and its progress hook.
 */
#ifndef RECGAN_TRAIN_H
#define RECGAN_TRAIN_H

#include "model.h"

/*
 * Called by recgan_train after each epoch, when set: a background worker
 * uses it to publish live progress.  It must not throw.
 */
typedef void (*RecganTrainProgressHookType) (const EpochReport *report);
extern PGDLLIMPORT RecganTrainProgressHookType RecganTrainProgressHook;

#endif							/* RECGAN_TRAIN_H */
